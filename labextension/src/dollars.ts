/**
 * Keep money as text in model-written Markdown that JupyterLab typesets with MathJax, and keep
 * that Markdown from running anything (HTML, images, script links) in the page.
 *
 * JupyterLab (and Notebook 7) run MathJax over the *rendered* DOM, so "East leads by $1.2k;
 * the unit price is $4.50" becomes italic math, and a Markdown `\$` does not help: marked turns
 * it into a bare `$` before MathJax looks (jupyterlab/jupyterlab#8645, #9033). A literal dollar
 * needs `\\$` in the source, which reaches the DOM as `\$`, which MathJax's processEscapes shows
 * as `$`. Which dollars are literal follows pandoc's `tex_math_dollars` rule (a closing `$` is
 * preceded by a non-space and not followed by a digit, so "$20 and $30" is not math), plus one
 * for money: `$` + an amount (`$4.50`, `$1.2k`, `$3M`) followed by a word end.
 *
 * A port of kimi_lab/common/dollars.py (`protect_dollars`, `safe_markdown`): tests/fixtures/dollars.json
 * and tests/fixtures/safe_markdown.json hold the cases both test suites run, so the two cannot
 * drift. Python's notions of a line and a space (str.splitlines, str.isspace, re's Unicode `\s`)
 * and its case-insensitive letters are spelled out below so both sides classify the same
 * characters; digits are ASCII on both sides.
 */

/** Two backslashes and a dollar: see above. */
export const LITERAL = '\\\\$';

/** The characters Python's str.isspace() (and re's `\s`) accepts. */
const SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const IS_SPACE = new RegExp(`^[${SPACE}]$`);

/** Line ends as str.splitlines() knows them, `\r\n` as one. */
const LINE_END = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** A fence opens code wherever it stands: indented in a list item, or inside a blockquote. */
const FENCE = /^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})/;

/** May be an indented code block (not a nested list item): its dollars stay as written. */
const INDENTED = /^(?:[ \t]*>)*(?: {4}|\t)(?![ \t]*(?:[-*+]|[0-9]+[.)])[ \t])/;

/** `$` + an amount + an optional suffix, then the end, a space or punctuation (sticky: at `lastIndex`). */
const MONEY = new RegExp(`\\$[0-9][0-9,]*(?:\\.[0-9]+)?(?:bn|mm|MM|[kKMBm])?(?=$|[${SPACE}.,;:!?)\\]}'"/|*_%\\-–—])`, 'y');

/**
 * A destination that cannot run script: http(s), mailto, or a relative one. Python's `(?i)`
 * spelled out: it also takes `ſ` for `s` and `ı`, `İ` for `i`.
 */
const SAFE_SCHEME = /^(?:[hH][tT][tT][pP][sSſ]?:|[mM][aA][iIıİ][lL][tT][oO]:|#|\/|\.|[^:/?#]*(?:[/?#]|$))/;
const LINK_DEST = new RegExp(`\\]\\([${SPACE}]*<?([^)>]*)`, 'g');
/** A link's destination: a URL, never money or math. */
const LINK_SPAN = /\]\([^)]*\)/g;
const LINK_DEF = new RegExp(`^([${SPACE}]{0,3}(?:>[${SPACE}]*)*)\\[([^\\]]+)\\]:[${SPACE}]*<?([^${SPACE}]*)`);
const CONTROL = /[\x00-\x20\x7f]/g;

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && IS_SPACE.test(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
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
  return outsideCode(markdown, protectProse, line => line);
}

/**
 * Model-written Markdown as the sidebar hands it to rendermime: outside code, `<` is shown,
 * never a tag; an image is shown as its text (a remote image would load by itself, carrying
 * whatever the model put in its URL); a link whose scheme is not http(s), mailto or a relative
 * one is shown as text (see inertMarkdown); and money stays money (protectDollars).
 */
export function safeMarkdown(markdown: string): string {
  return protectDollars(inertMarkdown(markdown));
}

/** safeMarkdown without the dollar escapes: for a page with no MathJax to escape them from. */
export function inertMarkdown(markdown: string): string {
  return outsideCode(markdown, inertText, inertText);
}

/** Dollars in text, link destinations left as written. */
function protectProse(text: string): string {
  const pieces: string[] = [];
  let last = 0;
  LINK_SPAN.lastIndex = 0;
  for (let m = LINK_SPAN.exec(text); m; m = LINK_SPAN.exec(text)) {
    pieces.push(protectText(text.slice(last, m.index)), m[0]);
    last = m.index + m[0].length;
  }
  pieces.push(protectText(text.slice(last)));
  return pieces.join('');
}

function safeDestination(destination: string): boolean {
  return SAFE_SCHEME.test(destination.replace(CONTROL, ''));
}

/** Text outside code: no HTML, no images, no script links (see safeMarkdown). */
function inertText(text: string): string {
  text = text.split('<').join('&lt;').split('![').join('!\\[');
  text = text.replace(LINK_DEST, (whole: string, destination: string) =>
    safeDestination(destination) ? whole : ']\\(' + whole.slice(2)
  );
  const definition = LINK_DEF.exec(text);
  if (definition && !safeDestination(definition[3])) {
    text = `${definition[1]}\\[${text.slice(definition[1].length + 1)}`;
  }
  return text;
}

/**
 * Apply `text` to what is not code: fenced blocks (wherever they stand) and code spans stay as
 * written; a line that may be an indented code block gets `indented` instead.
 */
function outsideCode(markdown: string, text: (piece: string) => string, indented: (line: string) => string): string {
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
    } else if (INDENTED.test(line)) {
      out.push(indented(line));
    } else {
      out.push(outsideSpans(line, text));
    }
  }
  return out.join('');
}

/** One line outside code fences: code spans kept, `text` applied to the rest. */
function outsideSpans(line: string, text: (piece: string) => string): string {
  const pieces: string[] = [];
  const n = line.length;
  let i = 0;
  let start = 0;
  while (i < n) {
    if (line[i] !== '`') {
      i++;
      continue;
    }
    let run = 1;
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
    pieces.push(text(line.slice(start, i)));
    pieces.push(line.slice(i, close + run));
    i = start = close + run;
  }
  pieces.push(text(line.slice(start)));
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
    } else if (!isSpace(text[pos - 1]) && !(pos + 1 < n && isDigit(text[pos + 1]))) {
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
