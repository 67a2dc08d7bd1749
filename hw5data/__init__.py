"""hw5data: the homework's data sets for the grader and the reference drivers.

NIST36 in the handout's .mat format (the real files where a user has them, else "nist36-lite",
built here from real handwriting in the shared data folder).
"""
