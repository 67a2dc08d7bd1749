"""docs/fidelity.md, the handout-fidelity audit, written from the rubric (its `cites` and `advice`).

    python -m autograde.fidelity            # rewrite docs/fidelity.md
    python -m autograde.fidelity --check    # exit 1 if docs/fidelity.md is out of date

The rubric is the one home of points and citations; this page only lays them out for a reader,
so tests/test_rubric.py fails when the two disagree.
"""
import argparse
import sys

from autograde import PROJECT_DIR
from autograde.rubric import DEFAULT_PROFILE, load_rubric

FIDELITY_DOC = PROJECT_DIR / "docs" / "fidelity.md"

PREAMBLE = """# Handout fidelity: what each check enforces

*Generated from `autograde/rubric.toml` by `python -m autograde.fidelity`; edit the rubric, not this page.*

Every scored check enforces a sentence of the handout (`../shared/handout.md`) or a setting of the
handout's starter code, quoted below. A check that enforces only polish beyond the handout is
**advice**: it runs, its failure is shown to the student with the reason it is advice, and it costs
nothing in the default rubric. The `strict` profile (`autograde --rubric strict`) gives the advice
checks points; each question's total stays the handout's in both.

## One root cause, one deduction

- **Other questions' code is the grader's.** A check of one question runs that question's functions;
  the functions of other questions it needs (the layers, batches and update step of Q2, the
  autoencoder's layers and momentum step of Q5.1) are replaced by the grader's trusted versions
  (`spec_tests/gradcheck.py`, patched in by `Submission.patched`). So a Q2 bug costs Q2's points
  and not again in Q2.4.1's training loop, Q3's trainings, Q4.4's reading or Q5; a Q5.1 bug costs
  Q5.1's points and not again in Q5.2's training. Q4.4 reads the pages with the grader's Q3 network,
  so a training problem of Q3 is not charged in Q4.4.
- **A convention is charged once.** A bias of shape (1, M) is charged in Q2.1.2 (the starter asserts
  (M,)); Q2.3.1 accepts a (1, M) `grad_b` from a submission whose biases are (1, M), and says so.
  Boxes in [x1, y1, x2, y2] order are charged by Q4.2's order check; the page checks score them
  swapped back. A transposed `grad_W` is charged by the shape check; the value checks compare it
  transposed.
- **What is still end to end, by the handout's design.** Q4.4's `read_text` checks read each page
  with the submission's own Q4 pipeline (its findLetters, lines, crops, spaces), as the handout's
  run_q4 does: a findLetters problem charged in Q4.2 can show there too, and the report gives the
  reading of its boxes by the reference's crops and network, so a TA sees which part is at fault.
  Within one question a bug can fail several of its checks (a softmax over the wrong axis fails all
  four of Q2.2.2's).

## The functions a check passes as arguments

Where the handout's scripts pass one of the submission's functions to another (run_q2.py's
`backwards(delta, params, 'output', linear_deriv)` and `backwards(delta, params, 'layer1',
sigmoid_deriv)`, `forward(X, params, 'layer1', sigmoid)`, run_q5.py's relu layers), a check that
calls the submission's code passes the submission's own function, named and resolved in its process
(`Submission.own_function`: nn.py's binding, else util.py's), never a grader lambda or copy. So code
that tells functions apart by identity (`if activation_deriv == sigmoid_deriv: ... elif
activation_deriv == linear_deriv: ...`) is graded as the handout's scripts would run it
(`students/activation_dispatch_by_identity` keeps full marks).

| check | the callables passed | why |
|---|---|---|
| Q1.3, Q1.5 (evidence) | `forward(..., linear)`, `backwards(..., linear_deriv)`: util.py's own | the identity layer of the theory questions, as util.py gives it |
| Q2.2.1 `test_forward_returns_activation_of_xw_plus_b` | none (the default), then the submission's own `relu`; the output is compared with what that `relu` makes of X W + b | "forward must apply the activation it is given", with one run_q5.py passes; a wrong util.py costs nothing here |
| Q2.3.1 backwards checks | `backwards(..., linear_deriv)` for the softmax layer, `backwards(..., sigmoid_deriv)` for the hidden one: the submission's own | as run_q2.py calls them. Where its `sigmoid_deriv` (or util's `linear_deriv`) is wrong, the grader's is patched in under that name for these checks, so identity dispatch still recognises it; the report says so, and the wrong `sigmoid_deriv` is charged once, by `test_sigmoid_deriv_is_written_in_terms_of_the_output` (`students/activation_dispatch_sigmoid_deriv_of_x`) |
| Q2.4.1 trainings | whatever the submission's `train` passes, resolved in its own modules, where the grader's Q2 functions are patched in | the grader's `forward`/`backwards` call the function they get and never compare it |
| Q2.5.1 `numerical_gradients` | the grader's loss function `loss_fn(params)` | the contract's checker takes any function of the parameters, as run_q2.py passes its own closure: no function of the submission belongs there |
| Q3.1.x, Q4.4 | as Q2.4.1: the submission's training or reading code on the grader's Q2 functions (and Q2 loop for Q3's trainings) | a Q2 bug is charged in Q2 |
| Q5.1.1 | `autoencoder_forward`/`autoencoder_backwards` call the grader's `forward`/`backwards` with what its run_q5.py passes: util.py's own `relu` and `relu_deriv`, and `sigmoid`, `sigmoid_deriv` by name, which are the grader's there like the rest of Q2 | a Q2 bug is charged in Q2; the layers' activations are graded by the output they give |
| Q5.2, Q5.3.x | the submission's loop on the grader's Q2 and Q5.1 functions (`relu` and `relu_deriv` too) | a Q5.1 bug is charged in Q5.1 |
| Q6, Q7 | none: arrays, paths and models (Q7's probes run the submission's own functions in its process) | |

## Procedure checks

Where the handout fixes a procedure, a check observes it through the calls (the grader's trusted
functions record each call), so a procedural bug is caught whatever the run:

| question | what is observed | known-wrong submission it catches |
|---|---|---|
| Q2.4.1 | the loop calls `get_random_batches` (random batches), on the grader's layers | `train_iterates_in_input_order` |
| Q3.1.2 (evidence) | each learning rate trains a fresh network: `initialize_weights` once per rate | `students/sweep_reuses_one_network` |
| Q5.2 | the starter's schedule: 100 epochs, batches of 36, rate 3e-5 × 0.9 after every 20th epoch, read from `momentum_step`'s calls | `students/decay_every_epoch`, `q5_learning_rate_too_small` |
| Q7.x | `predict` runs the trained model in eval mode, gives the same answer twice, and prepares inputs as `train` does | `q7_nist36_cnn_predict_without_eval`, `students/mnist_cnn_without_eval`, `q7_mnist_predict_skips_normalisation` |

Q7's accuracies are measured with the model in eval mode, so a missing `model.eval()` costs the
procedure check only.

## The checks, question by question

`pt` is the default profile's points, `strict` the strict profile's where it differs. Evidence checks
(questions graded by a person) carry no points; they are listed with what they show.
"""


def render(rubric=None, strict=None):
    """The page's Markdown text from the default and strict profiles of the bundled rubric."""
    rubric = rubric or load_rubric(profile=DEFAULT_PROFILE)
    strict = strict or load_rubric(profile="strict")
    lines = [PREAMBLE]
    for q, s in zip(rubric.questions, strict.questions, strict=True):
        if not (q.tests or q.evidence):
            continue
        how = "scored by tests" if q.graded else "graded by a person; the checks are evidence"
        lines += [f"### Q{q.id} {q.title} ({q.points:g} point{'' if q.points == 1 else 's'}, {how})", ""]
        if q.graded:
            lines += ["| check | pt | strict | enforces |", "|---|--:|--:|---|"]
            for name, points in q.tests.items():
                other = "" if s.tests[name] == points else f"{s.tests[name]:g}"
                text = f"**advice**: {q.advice[name]}" if q.is_advice(name) else q.cites.get(name, "")
                lines.append(f"| `{name}` | {points:g} | {other} | {_cell(text)} |")
        else:
            lines += [f"- evidence: `{name}`" for name in q.evidence]
        lines.append("")
    lines += _items_section(rubric)
    return "\n".join(lines)


ITEMS_PREAMBLE = """## The rubric items of the questions a person grades

A grader ticks items (Gradescope's negative scoring): the score is the question's points plus the
points of the items ticked and any adjustment, kept within [0, points]. Each item enforces the
handout sentence quoted beside it. An item suggested by an evidence check is pre-selected when that
check fails, for the grader to confirm or untick; the note is shown to graders only.
"""


def _items_section(rubric):
    """The Markdown lines listing each manual question's rubric items (id, points, text, cites,
    suggested_by, note); [] when no question has items."""
    questions = [q for q in rubric.questions if q.items]
    if not questions:
        return []
    lines = [ITEMS_PREAMBLE]
    for q in questions:
        lines += [f"### Q{q.id} {q.title} ({q.points:g} point{'' if q.points == 1 else 's'})", "",
                  "| item | pt | the student sees | enforces | suggested by | note for graders |",
                  "|---|--:|---|---|---|---|"]
        for item in q.items:
            suggested = ", ".join(f"`{name}`" for name in item.suggested_by)
            lines.append(f"| `{item.id}` | {item.points:+g} | {_cell(item.text)} | {_cell(item.cites)} | "
                         f"{suggested} | {_cell(item.note)} |")
        lines.append("")
    return lines


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/fidelity.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = FIDELITY_DOC.read_text(encoding="utf-8") if FIDELITY_DOC.is_file() else ""
        if current != text:
            print(f"{FIDELITY_DOC} is out of date: run python -m autograde.fidelity", file=sys.stderr)
            return 1
        return 0
    FIDELITY_DOC.write_text(text, encoding="utf-8")
    print(f"wrote {FIDELITY_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
