/**
 * Keep money as text in model-written Markdown that JupyterLab typesets with MathJax.
 *
 * JupyterLab (and Notebook 7) run MathJax over the *rendered* DOM, so "East leads by $1.2k;
 * the unit price is $4.50" becomes italic math, and a Markdown `\$` does not help: marked turns
 * it into a bare `$` before MathJax looks (jupyterlab/jupyterlab#8645, #9033). A literal dollar
 * needs `\\$` in the source, which reaches the DOM as `\$`, which MathJax's processEscapes shows
 * as `$`. Which dollars are literal follows pandoc's `tex_math_dollars` rule (a closing `$` is
 * preceded by a non-space and not followed by a digit, so "$20 and $30" is not math), plus one
 * for money: `$` + an amount (`$4.50`, `$1.2k`, `$3M`) followed by a word end.
 *
 * A port of kimi_lab/_dollars.py (`protect_dollars`): tests/fixtures/dollars.json holds the
 * cases both test suites run, so the two cannot drift. Python's notions of a line, a space and
 * a digit (str.splitlines, str.isspace, str.isdigit, re's Unicode `\s` and `\d`) are spelled out
 * below so both sides classify the same characters.
 */

/** Two backslashes and a dollar: see above. */
export const LITERAL = '\\\\$';

/** The characters Python's str.isspace() (and re's `\s`) accepts. */
const SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const IS_SPACE = new RegExp(`^[${SPACE}]$`);

/** Python's str.isdigit(): decimal digits plus the superscript, circled, … digits. */
const IS_DIGIT =
  /^[\p{Nd}\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\u{10a40}-\u{10a43}\u{10e60}-\u{10e68}\u{11052}-\u{1105a}\u{1f100}-\u{1f10a}]$/u;

/** Line ends as str.splitlines() knows them, `\r\n` as one. */
const LINE_END = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

const FENCE = /^[ \t]{0,3}(`{3,}|~{3,})/;

/** `$` + an amount + an optional suffix, then the end, a space or punctuation (sticky: at `lastIndex`). */
const MONEY = new RegExp(`\\$\\p{Nd}[\\p{Nd},]*(?:\\.\\p{Nd}+)?(?:bn|mm|MM|[kKMBm])?(?=$|[${SPACE}.,;:!?)\\]}'"/|*_%\\-–—])`, 'uy');

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && IS_SPACE.test(ch);
}

/** Whether the character (a whole code point) at `at` is a digit. */
function isDigitAt(text: string, at: number): boolean {
  const cp = text.codePointAt(at);
  return cp !== undefined && IS_DIGIT.test(String.fromCodePoint(cp));
}

/** Python's `str.strip()` emptiness test. */
function blank(text: string): boolean {
  for (const ch of text) {
    if (!isSpace(ch)) {
      return false;
    }
  }
  return true;
}

/** The lines of `text` with their line ends (Python's `splitlines(keepends=True)`). */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  LINE_END.lastIndex = 0;
  for (let m = LINE_END.exec(text); m; m = LINE_END.exec(text)) {
    lines.push(text.slice(start, m.index + m[0].length));
    start = m.index + m[0].length;
  }
  if (start < text.length) {
    lines.push(text.slice(start));
  }
  return lines;
}

/** Model-written Markdown with money kept as text and real math (`$x^2$`, `$$…$$`) left to render. */
export function protectDollars(markdown: string): string {
  if (!markdown.includes('$')) {
    return markdown;
  }
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of splitLines(markdown)) {
    const opened = FENCE.exec(line);
    if (fence !== null) {
      // A closing fence: the same character, at least as long, nothing after it but spaces.
      if (opened && opened[1][0] === fence[0] && opened[1].length >= fence.length && blank(line.slice(opened[0].length))) {
        fence = null;
      }
      out.push(line);
    } else if (opened) {
      fence = opened[1];
      out.push(line);
    } else {
      out.push(protectLine(line));
    }
  }
  return out.join('');
}

/** One line outside code fences: code spans kept, dollars classified. */
function protectLine(line: string): string {
  const pieces: string[] = [];
  const n = line.length;
  let i = 0;
  let start = 0;
  while (i < n) {
    if (line[i] !== '`') {
      i++;
      continue;
    }
    let run = 0;
    while (i + run < n && line[i + run] === '`') {
      run++;
    }
    const ticks = line.slice(i, i + run);
    let close = line.indexOf(ticks, i + run);
    while (close !== -1 && close + run < n && line[close + run] === '`') {
      close = line.indexOf(ticks, close + run + 1);
    }
    if (close === -1) {
      i += run; // no closing run: these backticks are text
      continue;
    }
    pieces.push(protectText(line.slice(start, i)));
    pieces.push(line.slice(i, close + run));
    i = start = close + run;
  }
  pieces.push(protectText(line.slice(start)));
  return pieces.join('');
}

/** Text without code: escape every `$` that is not part of math. */
function protectText(text: string): string {
  if (!text.includes('$')) {
    return text;
  }
  const literal = new Set<number>();
  const candidates: number[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < n) {
      if (text[i + 1] === '$') {
        literal.add(i + 1); // the author's own escape: keep it a dollar in the DOM too
      }
      i += 2;
      continue;
    }
    if (ch === '$') {
      if (text[i + 1] === '$') {
        i += 2; // display math delimiters stay
        continue;
      }
      MONEY.lastIndex = i;
      if (MONEY.test(text)) {
        literal.add(i);
      } else {
        candidates.push(i);
      }
    }
    i++;
  }
  // Pair the rest on this line as pandoc does: an opener is followed by a non-space; a closer
  // follows a non-space and is not followed by a digit.
  let opener: number | null = null;
  for (const pos of candidates) {
    if (opener === null) {
      if (pos + 1 < n && !isSpace(text[pos + 1])) {
        opener = pos;
      } else {
        literal.add(pos);
      }
    } else if (!isSpace(text[pos - 1]) && !(pos + 1 < n && isDigitAt(text, pos + 1))) {
      opener = null; // a math pair
    } else if (pos + 1 < n && !isSpace(text[pos + 1])) {
      literal.add(opener); // cannot close but can open: the earlier one was a lone dollar
      opener = pos;
    } else {
      literal.add(pos);
    }
  }
  if (opener !== null) {
    literal.add(opener);
  }
  const out: string[] = [];
  let last = 0;
  for (const pos of [...literal].sort((a, b) => a - b)) {
    if (pos > 0 && text[pos - 1] === '\\' && (pos < 2 || text[pos - 2] !== '\\')) {
      out.push(text.slice(last, pos - 1)); // drop the author's single backslash; LITERAL adds two
    } else {
      out.push(text.slice(last, pos));
    }
    out.push(LITERAL);
    last = pos + 1;
  }
  out.push(text.slice(last));
  return out.join('');
}
