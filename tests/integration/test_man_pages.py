"""The man pages (man/): `mandoc -T lint` reports nothing; `originctl --help` and originctl(8) name the same
commands, and every option of `originctl COMMAND --help` is in originctl(8) (and every option the page gives
a command is in its --help). The configuration keys are checked against the parser's table by
tests/unit/test_man_pages.c."""
import os
import re
import subprocess

from harness import ROOT, Checks, build_path

t = Checks("man pages")
man = os.path.join(ROOT, "man")
pages = [os.path.join(man, p) for p in ("originmaild.8", "originctl.8", "originmail.conf.5")]

# Linted together and by their names in man/, so that their .Xr references to each other resolve.
lint = subprocess.run(["mandoc", "-T", "lint"] + [os.path.basename(p) for p in pages], cwd=man, capture_output=True,
                      text=True)
t.check(lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(),
        "mandoc -T lint reports nothing", lint.stdout + lint.stderr)
for p in pages:
    out = subprocess.run(["mandoc", "-T", "ascii", p], capture_output=True, text=True)
    t.check(out.returncode == 0 and len(out.stdout) > 1000, f"{os.path.basename(p)} renders")


def help_commands():
    out = subprocess.run([build_path("originctl"), "--help"], capture_output=True, text=True)
    t.check(out.returncode == 0, "originctl --help exits 0")
    body = out.stdout.split("commands:", 1)[1]
    return [m.group(1) for m in re.finditer(r"^  ([a-z][a-z0-9-]*) ", body, re.M)]


def long_options(text):
    return set(re.findall(r"--([a-z0-9][a-z0-9-]*)", text)) - {"help"}


page = open(os.path.join(man, "originctl.8")).read()
section = page.split("\n.Sh COMMANDS\n", 1)[1].split("\n.Sh ", 1)[0]
# The command entries: ".It Cm NAME ..." at the outer level of COMMANDS.
entries = {}
for block in re.split(r"\n(?=\.It Cm [a-z])", "\n" + section):
    m = re.match(r"\.It Cm ([a-z][a-z0-9-]*)\b", block)
    if m:
        entries[m.group(1)] = block

cmds = help_commands()
t.check(len(cmds) >= 6, "originctl --help lists the commands", str(cmds))
t.check(sorted(cmds) == sorted(entries),
        "originctl --help and originctl(8) COMMANDS name the same commands",
        f"--help: {sorted(cmds)}, man: {sorted(entries)}")
synopsis = page.split("\n.Sh SYNOPSIS\n", 1)[1].split("\n.Sh ", 1)[0]
for c in cmds:
    t.check(f".Cm {c}\n" in synopsis, f"{c} is in the SYNOPSIS")
    out = subprocess.run([build_path("originctl"), c, "--help"], capture_output=True, text=True)
    t.check(out.returncode == 0 and out.stdout.startswith(f"usage: originctl {c}"), f"originctl {c} --help")
    from_help = long_options(out.stdout)
    # in mdoc a long option is "Fl Fl NAME"
    from_man = set(re.findall(r"Fl Fl ([a-z0-9][a-z0-9-]*)", entries.get(c, "")))
    t.check(from_help == from_man, f"{c}: the options of --help and of originctl(8) agree",
            f"only in --help: {sorted(from_help - from_man)}, only in the page: {sorted(from_man - from_help)}")
    short = set(re.findall(r"(?<![-\w])-([a-zA-Z])\b", out.stdout.split("\n")[0]))
    for s in short:
        t.check(f"Fl {s} " in entries.get(c, "") or f"Fl {s}\n" in entries.get(c, ""),
                f"{c}: option -{s} is in originctl(8)")
    exit_status = page.split("\n.Sh EXIT STATUS\n", 1)[1].split("\n.Sh ", 1)[0]
    t.check(re.search(rf"^\.It .*Cm {re.escape(c)}\b", exit_status, re.M) is not None,
            f"{c}: its exit codes are in EXIT STATUS")

# originmaild(8): every option of its usage.
out = subprocess.run([build_path("originmaild"), "--help"], capture_output=True, text=True)
daemon = open(os.path.join(man, "originmaild.8")).read()
for s in re.findall(r"-([a-zA-Z])\b", out.stdout.split("\n")[0]):
    t.check(f".It Fl {s}" in daemon, f"originmaild -{s} is in originmaild(8)")
for lo in long_options(out.stdout.split("\n")[0]):
    t.check(f"Fl Fl {lo}" in daemon, f"originmaild --{lo} is in originmaild(8)")
t.finish()
