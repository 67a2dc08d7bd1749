"""Helpers the grader's own tests share: the fixture corpora (corpus.py), the `autograde` command as a
user runs it (cli.py), child processes (processes.py), the Gradescope schema (schema.py), the
handout images' skip marker (images.py). Tests
import from here, never from each other."""
