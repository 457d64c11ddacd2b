//! A `logging` format string, parsed once into literals and fields, per style.
//!
//! Each parser accepts a subset of what its Python counterpart accepts, and reads
//! that subset exactly as Python does; anything outside it is an `Err` (the formatter
//! then keeps the Python path, which gives Python's own output or error):
//!
//! * `%` (`fmt % record.__dict__`, `PyUnicode_Format`): `%%`, and
//!   `%(key)[flags][width][.precision][h|l|L]conversion` with `key` up to the
//!   balancing `)` (parentheses nest, as in CPython), flags from `-+ #0`, decimal
//!   width and precision (`.` alone is precision 0), one ignored length modifier, and a
//!   conversion from `sdiurafFeEgGxXoc`. Refused: a spec without a key (it would
//!   format the whole dict), `*` widths, `%` as a field's conversion, an unknown
//!   conversion, a format ending inside a spec.
//! * `{` (`fmt.format(**record.__dict__)`): `{{`, `}}`, and `{name[!r|!s|!a][:spec]}`
//!   where `name` is a plain key (no `.`, `[`, `]`, `{`, `}`, `!`, `:`; not empty; not
//!   all digits, which would be a positional index) and `spec` has no nested field.
//!   Refused: a lone `{` or `}`, anything else.
//! * `$` (`string.Template(fmt).substitute(**record.__dict__)`): `$$`, `$name` and
//!   `${name}` with `name` matching `Template.idpattern` (`[_a-zA-Z][_a-zA-Z0-9]*`,
//!   ASCII only: the pattern is `(?a:...)` with `re.IGNORECASE`, Python 3.9-3.13).
//!   Refused: any other `$` (Template's `invalid` group raises for every record).

/// The three `logging` styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Percent,
    Brace,
    Dollar,
}

impl Style {
    pub(crate) fn from_char(style: &str) -> Option<Style> {
        match style {
            "%" => Some(Style::Percent),
            "{" => Some(Style::Brace),
            "$" => Some(Style::Dollar),
            _ => None,
        }
    }

    /// `Formatter.usesTime()`: the style's plain substring search, as the stdlib does
    /// it (`{{asctime}}` or `$asctimex` count too: `record.asctime` is then set).
    pub(crate) fn uses_time(self, fmt: &str) -> bool {
        match self {
            Style::Percent => fmt.contains("%(asctime)"),
            Style::Brace => fmt.contains("{asctime"),
            Style::Dollar => fmt.contains("$asctime") || fmt.contains("${asctime}"),
        }
    }
}

/// One piece of a parsed format.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Field(Field),
}

/// A field: the record attribute it reads, and how it is rendered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub key: String,
    pub spec: Spec,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Spec {
    Percent(PercentSpec),
    Brace {
        conversion: Option<char>,
        format_spec: String,
    },
    /// `str(value)`.
    Dollar,
}

/// A `%` conversion spec, without its key.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PercentSpec {
    pub left: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub zero: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    pub conversion: char,
    /// The spec as a positional `%` format (`"%-8s"`): what `spec % (value,)` renders
    /// exactly as `%(key)-8s` renders `value`.
    pub text: String,
}

const PERCENT_CONVERSIONS: &str = "sdiurafFeEgGxXoc";

/// Parse `fmt` in `style` (see the module header for what is accepted).
pub(crate) fn parse(style: Style, fmt: &str) -> Result<Vec<Part>, String> {
    let mut parts = Parser::default();
    match style {
        Style::Percent => parse_percent(fmt, &mut parts)?,
        Style::Brace => parse_brace(fmt, &mut parts)?,
        Style::Dollar => parse_dollar(fmt, &mut parts)?,
    }
    Ok(parts.finish())
}

/// Collects parts, merging adjacent literals.
#[derive(Default)]
struct Parser {
    parts: Vec<Part>,
    literal: String,
}

impl Parser {
    fn push_char(&mut self, c: char) {
        self.literal.push(c);
    }

    fn push_field(&mut self, key: String, spec: Spec) {
        if !self.literal.is_empty() {
            self.parts
                .push(Part::Literal(std::mem::take(&mut self.literal)));
        }
        self.parts.push(Part::Field(Field { key, spec }));
    }

    fn finish(mut self) -> Vec<Part> {
        if !self.literal.is_empty() {
            self.parts.push(Part::Literal(self.literal));
        }
        self.parts
    }
}

fn parse_percent(fmt: &str, out: &mut Parser) -> Result<(), String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push_char(c);
            continue;
        }
        match chars.get(i) {
            None => return Err("incomplete format".into()),
            Some('%') => {
                out.push_char('%');
                i += 1;
                continue;
            }
            Some('(') => {}
            Some(_) => return Err("a %-spec without a (key)".into()),
        }
        // The key: up to the `)` that balances the opening `(`.
        i += 1;
        let start = i;
        let mut depth = 1;
        while i < chars.len() {
            match chars[i] {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
        if depth != 0 {
            return Err("incomplete format key".into());
        }
        let key: String = chars[start..i - 1].iter().collect();
        let (spec, next) = percent_spec(&chars, i)?;
        i = next;
        out.push_field(key, Spec::Percent(spec));
    }
    Ok(())
}

/// The spec after a key, from `chars[i]`: flags, width, precision, length modifier,
/// conversion (CPython's `unicode_format_arg_parse`). Returns it and the next index.
fn percent_spec(chars: &[char], mut i: usize) -> Result<(PercentSpec, usize), String> {
    let mut spec = PercentSpec::default();
    let mut text = String::from("%");
    let next = |i: usize| chars.get(i).copied().ok_or("incomplete format");
    loop {
        match next(i)? {
            '-' => spec.left = true,
            '+' => spec.plus = true,
            ' ' => spec.space = true,
            '#' => spec.alt = true,
            '0' => spec.zero = true,
            _ => break,
        }
        text.push(chars[i]);
        i += 1;
    }
    if next(i)? == '*' {
        return Err("'*' width".into());
    }
    let digits = |i: &mut usize, text: &mut String| -> Result<Option<usize>, String> {
        let mut value: Option<usize> = None;
        while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
            let v = value.unwrap_or(0);
            value = Some(
                v.checked_mul(10)
                    .and_then(|v| v.checked_add(d as usize))
                    .filter(|v| *v <= isize::MAX as usize)
                    .ok_or("width or precision too big")?,
            );
            text.push(chars[*i]);
            *i += 1;
        }
        Ok(value)
    };
    spec.width = digits(&mut i, &mut text)?;
    if next(i)? == '.' {
        text.push('.');
        i += 1;
        if next(i)? == '*' {
            return Err("'*' precision".into());
        }
        spec.precision = Some(digits(&mut i, &mut text)?.unwrap_or(0));
    }
    if matches!(next(i)?, 'h' | 'l' | 'L') {
        i += 1; // ignored by Python, and left out of `text`
    }
    let conversion = next(i)?;
    if !PERCENT_CONVERSIONS.contains(conversion) {
        return Err(format!("unsupported format character {conversion:?}"));
    }
    spec.conversion = conversion;
    text.push(conversion);
    spec.text = text;
    Ok((spec, i + 1))
}

fn parse_brace(fmt: &str, out: &mut Parser) -> Result<(), String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '}' => {
                if chars.get(i) == Some(&'}') {
                    out.push_char('}');
                    i += 1;
                    continue;
                }
                return Err("Single '}' encountered in format string".into());
            }
            '{' => {
                if chars.get(i) == Some(&'{') {
                    out.push_char('{');
                    i += 1;
                    continue;
                }
            }
            _ => {
                out.push_char(c);
                continue;
            }
        }
        // A field: `name[!c][:spec]}`.
        let start = i;
        while i < chars.len() && !matches!(chars[i], '!' | ':' | '}') {
            if matches!(chars[i], '{' | '[' | ']' | '.') {
                return Err("not a plain field name".into());
            }
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        if key.is_empty() || key.chars().all(char::is_numeric) {
            return Err("a positional field".into());
        }
        let mut conversion = None;
        if chars.get(i) == Some(&'!') {
            match (chars.get(i + 1), chars.get(i + 2)) {
                (Some(&c @ ('r' | 's' | 'a')), Some(':' | '}')) => conversion = Some(c),
                _ => return Err("bad conversion".into()),
            }
            i += 2;
        }
        let mut format_spec = String::new();
        if chars.get(i) == Some(&':') {
            i += 1;
            while i < chars.len() && chars[i] != '}' {
                if chars[i] == '{' {
                    return Err("a nested field in a format spec".into());
                }
                format_spec.push(chars[i]);
                i += 1;
            }
        }
        if chars.get(i) != Some(&'}') {
            return Err("expected '}' before end of string".into());
        }
        i += 1;
        out.push_field(
            key,
            Spec::Brace {
                conversion,
                format_spec,
            },
        );
    }
    Ok(())
}

fn parse_dollar(fmt: &str, out: &mut Parser) -> Result<(), String> {
    let chars: Vec<char> = fmt.chars().collect();
    let is_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let is_cont = |c: char| c == '_' || c.is_ascii_alphanumeric();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '$' {
            out.push_char(c);
            continue;
        }
        match chars.get(i) {
            Some('$') => {
                out.push_char('$');
                i += 1;
            }
            Some(&c) if is_start(c) => {
                let start = i;
                while i < chars.len() && is_cont(chars[i]) {
                    i += 1;
                }
                out.push_field(chars[start..i].iter().collect(), Spec::Dollar);
            }
            Some('{') if chars.get(i + 1).is_some_and(|&c| is_start(c)) => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && is_cont(chars[j]) {
                    j += 1;
                }
                if chars.get(j) != Some(&'}') {
                    return Err("Invalid placeholder in string".into());
                }
                out.push_field(chars[start..j].iter().collect(), Spec::Dollar);
                i = j + 1;
            }
            _ => return Err("Invalid placeholder in string".into()),
        }
    }
    Ok(())
}
