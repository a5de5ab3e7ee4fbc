"""`python -m finecl_hf.probing ...`, the same as `finecl probe ...`."""

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("probe")
