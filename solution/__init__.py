"""The reference solution: a submission folder like any student's (its modules import each other by
plain names, as in the handout's python/). This file only lets the grader's wheel carry it, as the
package hw5_solution; nothing imports the modules through it."""
