"""Numbers and words for the paper: table cells, LaTeX numbers, and sentences that read as
prose rather than templates.

Table cells (:func:`fmt`, :func:`fmt_p`) are plain text shared by the LaTeX and Markdown
tables; :func:`tex_cell` turns one into LaTeX (math minus, ``7.3e-05`` as 7.3×10⁻⁵). Numbers in
running text come from :func:`tex_num`, which never prints "0.000" for a small positive value
and never a raw exponent. :func:`count_words`, :func:`join_words` and :func:`tally` make
"one of the four fits is flatter and three are not resolved" from counts, dropping the zeros
and agreeing the verb with the number.
"""

from __future__ import annotations

import math
import re

import numpy as np

_DIGITS = dict(
    zip("0123456789", "Zero One Two Three Four Five Six Seven Eight Nine".split(), strict=True)
)
_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def macro_name(*parts) -> str:
    """A LaTeX command name (letters only) from parts: ``("ddpm", 1, 1.5) -> ddpmOneOnePtFive``."""
    out = []
    for part in parts:
        text = f"{part:g}" if isinstance(part, float) else str(part)
        text = "".join(_DIGITS.get(c, "Pt" if c == "." else c) for c in text)
        words = [w for w in re.split(r"[^A-Za-z]+", text) if w]
        out.append("".join(w[:1].upper() + w[1:] for w in words))
    return "".join(out)


# -- table cells ----------------------------------------------------------------------------
def fmt(value, digits: int = 3, fixed: bool = False) -> str:
    """A number for a table: ``---`` for NaN/None (never a NaN literal); ``digits`` decimals,
    or (not ``fixed``) ``digits - 1`` significant digits for small or huge values."""
    if value is None or not math.isfinite(float(value)):
        return "---"
    if isinstance(value, int | np.integer):
        return str(int(value))
    v = float(value)
    if fixed:
        return f"{v:.{digits}f}".replace(f"-{0:.{digits}f}", f"{0:.{digits}f}")
    if abs(v) >= 1e5:
        return f"{v:.{max(digits - 1, 1)}e}"
    if v != 0 and abs(v) < 10 ** -(digits - 1):  # small: significant digits, not zeros
        return f"{v:.{max(digits - 1, 1)}g}"
    return f"{v:.{digits}f}"


def fmt_p(p: float) -> str:
    """A p-value: two significant digits, ``<0.001`` style values in scientific form."""
    if not math.isfinite(p):
        return "---"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.0e}"


_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "≈": r"$\approx$", "→": r"$\to$", "±": r"$\pm$", "×": r"$\times$", "δ": r"$\delta$",
    "≤": r"$\le$", "≥": r"$\ge$", ">": r"$>$", "<": r"$<$", "−": r"$-$", "σ": r"$\sigma$",
    "²": r"$^2$", "†": r"\textsuperscript{\dag}", "‡": r"\textsuperscript{\ddag}", "\x00": r"$\underline{T}$",
}  # fmt: skip


def latex_escape(text: str) -> str:
    """Plain text as LaTeX text (special characters escaped, a few symbols in math)."""
    return "".join(_LATEX.get(c, c) for c in str(text).replace("T̲", "\x00"))


_SCI = re.compile(r"(?<![\w.])(-?)(\d+(?:\.\d+)?)e([+-]?)0*(\d+)\b")


def _sci_tex(m: re.Match) -> str:
    sign = "-" if m.group(1) else ""
    exp = ("-" if m.group(3) == "-" else "") + m.group(4)
    return f"${sign}{m.group(2)}\\times10^{{{exp}}}$"


def tex_cell(text: str) -> str:
    """A plain table cell as LaTeX: escaped, ``1.2e-05`` as $1.2\\times10^{-5}$, minus signs of
    numbers in math, en dashes as --."""
    text = _SCI.sub(lambda m: "\x01" + _sci_tex(m) + "\x02", str(text))
    parts = re.split(r"\x01(.*?)\x02", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)  # already LaTeX
        else:
            esc = latex_escape(part)
            out.append(re.sub(r"(?<![\w-])-(?=\d)", "$-$", esc).replace("–", "--"))
    return "".join(out)


# -- numbers in running text ------------------------------------------------------------------
def tex_num(value, digits: int = 3, sig: int = 2, signed: bool = False, fixed: bool = False) -> str:
    """A number for a sentence or a macro, valid in text and in math mode.

    Integers keep every digit (``41{,}000`` from 10,000 on). Other values get ``digits``
    decimals; one whose decimals would show fewer than ``sig`` significant digits gets ``sig``
    significant digits instead (0.0073, never "0.000"), and below 10⁻³ the form 7.3×10⁻⁵.
    ``signed``: a leading + on positive values (differences). ``fixed``: always ``digits``
    decimals, for quantities known to an absolute accuracy (exponents, their ratios), so that
    float noise such as 2×10⁻¹⁶ reads 0.000. NaN/None: ``---``.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "---"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | np.integer) or (float(value).is_integer() and abs(value) >= 1e3):
        v = int(value)
        text = f"{abs(v):,}".replace(",", "{,}") if abs(v) >= 10_000 else str(abs(v))
        sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
        return _math(sign + text) if (sign or "{,}" in text) else text
    v = float(value)
    a = abs(v)
    if a == 0 or fixed:
        text = f"{a:.{digits}f}"
    elif a < 1e-3:
        mant, exp = f"{a:.{sig - 1}e}".split("e")
        text = f"{mant}\\times10^{{{int(exp)}}}"
    elif a < 10 ** (sig - 1 - digits):
        text = f"{a:.{sig}g}"
        if "e" in text:  # .2g of 0.00012 would be 0.00012; guard against "1.2e-04"
            text = f"{a:.{sig - 1 - math.floor(math.log10(a))}f}"
    else:
        text = f"{a:.{digits}f}"
    sign = "-" if v < 0 and float(text.split("\\")[0]) != 0 else ("+" if signed and v > 0 else "")
    text = sign + text
    return _math(text) if (sign or "\\times" in text) else text


def _math(text: str) -> str:
    return f"\\ensuremath{{{text}}}"


def tex_exp(value, signed: bool = False) -> str:
    """An exponent (or a difference of exponents) for a sentence: three decimals always, the
    accuracy any fit here has, so that float noise reads 0.000."""
    return tex_num(value, 3, signed=signed, fixed=True)


def tex_ci(low: float, high: float, digits: int = 3, signed: bool = False) -> str:
    """``[low, high]`` of an exponent or a difference of exponents for a sentence, at a fixed
    ``digits`` decimals."""
    lo, hi = tex_num(low, digits, 1, signed, True), tex_num(high, digits, 1, signed, True)
    return f"[{lo}, {hi}]"


def tex_p(p: float) -> str:
    """A p-value for a sentence: ``p = 0.17``, ``p < 0.001``."""
    if not math.isfinite(p):
        return "$p$ not computable"
    return "$p < 0.001$" if p < 1e-3 else f"$p = {p:.2g}$"


# -- words ----------------------------------------------------------------------------------
def number_word(n: int, capital: bool = False) -> str:
    """``3 -> "three"`` up to twelve, digits from 13 on."""
    n = int(n)
    word = _WORDS[n] if 0 <= n < len(_WORDS) else str(n)
    return word[:1].upper() + word[1:] if capital else word


def plural(noun: str, n: int, plural_form: str | None = None) -> str:
    return noun if int(n) == 1 else (plural_form or noun + "s")


def count_words(n: int, noun: str, plural_form: str | None = None) -> str:
    """``(1, "fit") -> "one fit"``, ``(4, "fit") -> "four fits"``, ``(0, "fit") -> "no fits"``."""
    if int(n) == 0:
        return f"no {plural(noun, 0, plural_form)}"
    return f"{number_word(n)} {plural(noun, n, plural_form)}"


def join_words(items) -> str:
    """``["a"] -> "a"``, ``["a", "b"] -> "a and b"``, ``["a", "b", "c"] -> "a, b and c"``."""
    items = [str(i) for i in items if str(i)]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def tally(total: int, counts, noun: str = "fit", subject: str = "") -> str:
    """One sentence for how ``total`` things split over categories, zeros left out.

    ``counts``: pairs (count, predicate) with the predicate written for the plural ("are
    flatter"); the verb is made singular where the count is one. ``subject`` qualifies the
    noun ("DDPM"). Examples: "Of the four DDPM fits, one is flatter and three are not resolved
    by this design." / "All three KDE fits are equivalent to the theory." / "The one DDPM fit
    is flatter." / "There is no DDPM fit."
    """
    name = f"{subject} {noun}".strip()
    names = f"{subject} {plural(noun, 2)}".strip()
    parts = [(int(c), pred) for c, pred in counts if int(c) > 0]
    if total == 0:
        return f"There is no {name}."
    if len(parts) == 1 and parts[0][0] == total:
        pred = parts[0][1]
        if total == 1:
            return f"The one {name} {_singular(pred)}."
        head = "Both" if total == 2 else f"All {number_word(total)}"
        return f"{head} {names} {pred}."
    clauses = [f"{number_word(c)} {_singular(pred) if c == 1 else pred}" for c, pred in parts]
    return f"Of the {number_word(total)} {names}, {join_words(clauses)}."


def _singular(predicate: str) -> str:
    """The predicate of a plural subject for a singular one: "are" -> "is", "have" -> "has"."""
    for many, one in (("are ", "is "), ("have ", "has "), ("were ", "was "), ("fall ", "falls "),
                      ("lie ", "lies "), ("come ", "comes ")):  # fmt: skip
        if predicate.startswith(many):
            return one + predicate[len(many) :]
    return predicate


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- verdicts in words ----------------------------------------------------------------------
_GATED = re.compile(r"^measurement chain is the limit: (?P<why>.*) \(fit alone: (?P<alone>.*)\)$")
_W = re.compile(r"CI half-width (?P<w>[\d.]+) (?:>|≤) δ = (?P<m>[\d.]+)")


#: where the budget's design note (budget.design_note) starts in a verdict
_NOTE = "; the design ("
_SHARE = re.compile(r"(\d+)% at n = (\d+)")


def split_note(verdict: str) -> tuple[str, str]:
    """(the verdict, the budget's design note or "") of a verdict that may carry the note."""
    i = str(verdict).find(_NOTE)
    return (verdict, "") if i < 0 else (verdict[:i], verdict[i + 2 :])


def design_phrase(note: str) -> str:
    """The design note as LaTeX prose: "the early-stop blur and the sampler are more than 20%
    of the TV at n=250 (35%) and 500 (28%): part of the measured decline is set by T̲, not
    learned" (with LaTeX's escapes and math); "" for no note."""
    if not note:
        return ""
    what = ("the early-stop blur and the sampler are" if "blur + sampler" in note
            else "the early-stop blur is")  # fmt: skip
    share = re.search(r"more than (\d+)%", note)
    at = [f"{n} ({v}\\%)" for v, n in _SHARE.findall(note)]
    if at:
        at[0] = f"$n={at[0].split()[0]}$ {at[0].split()[1]}"
    lim = share.group(1) if share else "20"
    return (f"{what} more than {lim}\\% of the TV at {join_words(at)}: part of the measured "
            "decline is set by $\\underline{T}$, not learned")  # fmt: skip


def verdict_class(verdict: str) -> str:
    """equivalent / steeper / flatter / unresolved / gated / unmeasured."""
    verdict = split_note(verdict)[0]
    if _GATED.match(verdict):
        return "gated"
    if verdict.startswith("equivalent"):
        return "equivalent"
    if verdict in ("steeper", "flatter"):
        return verdict
    if verdict.startswith("not resolved"):
        return "unresolved"
    return "unmeasured"


def fit_alone(verdict: str) -> str:
    """The fit's own verdict inside a gated one (the verdict itself otherwise)."""
    verdict = split_note(verdict)[0]
    m = _GATED.match(verdict)
    return m.group("alone") if m else verdict


def short_verdict(verdict: str) -> str:
    """A verdict for a table cell (plain text): "equivalent (±0.05)", "not resolved
    (w = 0.071)", "not judged†: fit alone flatter", ...; "‡" where the budget's design note
    applies."""
    verdict, note = split_note(verdict)
    if note:
        return short_verdict(verdict) + "‡"
    m = _GATED.match(verdict)
    if m:
        return f"not judged†: {short_verdict(m.group('alone'))}"
    if verdict.startswith("equivalent"):
        return "equivalent (±" + verdict.rsplit("±", 1)[-1] + ")"
    w = _W.search(verdict)
    if verdict.startswith("not resolved") and w:
        if "crosses" in verdict:
            return f"not resolved (CI crosses ±{w.group('m')})"
        return f"not resolved (w = {w.group('w')})"
    return verdict


def verdict_phrase(verdict: str) -> str:
    """A verdict as the end of a sentence (LaTeX): "equivalent to the theory within
    $\\pm0.05$", "not resolved by this design (90\\% CI half-width 0.071 against the margin
    0.05)", ...; the budget's design note is left out (:func:`design_phrase` says it)."""
    verdict = split_note(verdict)[0]
    m = _GATED.match(verdict)
    if m:
        why = tex_cell(m.group("why"))
        return (
            f"not judged, since {why}; the fit alone would read {verdict_phrase(m.group('alone'))}"
        )
    if verdict.startswith("equivalent"):
        return "equivalent to the theory within $\\pm" + verdict.rsplit("±", 1)[-1] + "$"
    if verdict in ("steeper", "flatter"):
        return f"{verdict} than the theory (the 95\\% CI excludes it)"
    w = _W.search(verdict)
    if verdict.startswith("not resolved") and w:
        if "crosses" in verdict:
            return (f"not resolved: the 90\\% CI (half-width {w.group('w')}) crosses the margin "
                    f"$\\pm{w.group('m')}$")  # fmt: skip
        return (f"not resolved by this design (90\\% CI half-width {w.group('w')} against the "
                f"margin {w.group('m')})")  # fmt: skip
    return {
        "not measurable: floors": "not measurable: too few sizes of $n$ lie above twice the "
        "noise floor",
        "not measurable: flagged rows": "not measurable: too many of its rows are "
        "flagged rising, unresolved or below the resolution rule's $M$",
        "not measurable: failed": "not measurable: too many of its cells failed",
        "not measurable: too few points": "not measurable: fewer than three usable sizes of $n$",
    }.get(verdict, latex_escape(verdict))
