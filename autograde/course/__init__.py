"""The course verbs: what staff run over a whole section's submissions, never a submission's code.

batch (grade a folder, on this machine or a Dask cluster: cluster), rescore (a new rubric over the
stored records), similarity, export (the LMS's CSV), gradebook (the batch's CSV), and review (the
web app and spreadsheet round trip where people grade the questions the tests cannot).
"""
