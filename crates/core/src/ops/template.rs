//! Message templates: a log message with its variable parts masked, so that messages
//! that differ only in numbers, ids or quoted values count together.
//!
//! Masked, left to right:
//! - quoted values: `"..."` and `` `...` ``, and `'...'` where the quote does not
//!   follow a letter (so `don't` stays) → `"<str>"` (the quotes kept);
//! - date-times such as `2024-03-11T10:00:00Z` or `2024-03-11 10:00:00.123` → `<time>`;
//! - UUIDs (`8-4-4-4-12` hex digits) → `<uuid>`;
//! - `0x` hex numbers, and words of 8 or more hex digits holding a digit and a
//!   letter (trace ids, hashes) → `<hex>`;
//! - numbers (a sign when it follows no word, decimals, dotted runs such as IP
//!   addresses) → `<num>`, a unit after one kept (`12.5ms` → `<num>ms`); in a word
//!   that starts with a digit every run of digits (`3rd` → `<num>rd`). Digits inside
//!   a word that starts with a letter stay, and so does a dotted part after one
//!   (`v2`, `resnet50`, `v3.2.1`, `model_7.bin`).
//!
//! Runs of white space become one space; a template is at most
//! [`MAX_TEMPLATE_CHARS`] characters (longer ones end in `…`).

/// Longest template, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 160;

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The template of `message`.
pub fn template(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len().min(4 * MAX_TEMPLATE_CHARS));
    let mut i = 0;
    // 4 bytes per character at most: past this the template is longer than the bound.
    while i < chars.len() && out.len() <= 4 * MAX_TEMPLATE_CHARS {
        let c = chars[i];
        // Inside a word, or a dotted part of one (`v3.2.1`, `model_7.bin`).
        let after_word = i > 0
            && (is_word(chars[i - 1]) || (chars[i - 1] == '.' && i > 1 && is_word(chars[i - 2])));
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            i += 1;
            continue;
        }
        if (c == '"' || c == '`' || (c == '\'' && !after_word))
            && let Some(end) = closing_quote(&chars, i)
        {
            out.push(c);
            out.push_str("<str>");
            out.push(c);
            i = end + 1;
            continue;
        }
        if after_word || !(is_word(c) || ((c == '-' || c == '+') && starts_number(&chars, i + 1))) {
            out.push(c);
            i += 1;
            continue;
        }
        if let Some(length) = date_time_len(&chars[i..]) {
            out.push_str("<time>");
            i += length;
        } else if is_uuid(&chars[i..]) {
            out.push_str("<uuid>");
            i += 36;
        } else if c == '-' || c == '+' {
            i = push_number(&chars, i + 1, &mut out);
        } else {
            let end = (i..chars.len())
                .find(|&j| !is_word(chars[j]))
                .unwrap_or(chars.len());
            i = push_word(&chars, i, end, &mut out);
        }
    }
    let trimmed = out.trim_end();
    if trimmed.chars().count() > MAX_TEMPLATE_CHARS {
        let mut cut: String = trimmed.chars().take(MAX_TEMPLATE_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        trimmed.to_string()
    }
}

fn starts_number(chars: &[char], at: usize) -> bool {
    chars.get(at).is_some_and(char::is_ascii_digit)
}

/// The index of the quote closing the one at `open` (a backslash escapes one).
fn closing_quote(chars: &[char], open: usize) -> Option<usize> {
    let quote = chars[open];
    let mut j = open + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            c if c == quote => return Some(j),
            _ => j += 1,
        }
    }
    None
}

/// Matches `chars` from the start against `pattern`, where `9` stands for a digit,
/// `f` for a hex digit and any other character for itself.
fn matches(chars: &[char], pattern: &str) -> bool {
    chars.len() >= pattern.len()
        && pattern.chars().zip(chars).all(|(p, &c)| match p {
            '9' => c.is_ascii_digit(),
            'f' => c.is_ascii_hexdigit(),
            other => other == c,
        })
}

fn is_uuid(chars: &[char]) -> bool {
    matches(chars, "ffffffff-ffff-ffff-ffff-ffffffffffff")
        && !chars.get(36).copied().is_some_and(is_word)
}

/// The length of the date (and time) at the start of `chars`, if one is there.
fn date_time_len(chars: &[char]) -> Option<usize> {
    if !matches(chars, "9999-99-99") {
        return None;
    }
    let mut length = 10;
    if chars.get(10).is_some_and(|&c| c == 'T' || c == ' ') && matches(&chars[11..], "99:99") {
        length = 16;
        if matches(&chars[length..], ":99") {
            length += 3;
            if chars.get(length) == Some(&'.') && starts_number(chars, length + 1) {
                length += 1;
                while starts_number(chars, length) {
                    length += 1;
                }
            }
        }
        if chars.get(length) == Some(&'Z') {
            length += 1;
        } else if matches(&chars[length..], "+99:99") || matches(&chars[length..], "-99:99") {
            length += 6;
        }
    }
    (!chars.get(length).copied().is_some_and(is_word)).then_some(length)
}

/// Masks the number starting at `start` (a digit): digits, then any `.digits` runs,
/// then a unit of letters; answers where it ends.
fn push_number(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut j = start;
    let digits = |mut j: usize| {
        while starts_number(chars, j) {
            j += 1;
        }
        j
    };
    j = digits(j);
    while chars.get(j) == Some(&'.') && starts_number(chars, j + 1) {
        j = digits(j + 1);
    }
    if matches!(chars.get(j), Some('e' | 'E'))
        && (starts_number(chars, j + 1)
            || (matches!(chars.get(j + 1), Some('-' | '+')) && starts_number(chars, j + 2)))
    {
        j = digits(j + 2);
    }
    out.push_str("<num>");
    let unit_end = (j..chars.len())
        .find(|&k| !chars[k].is_alphabetic())
        .unwrap_or(chars.len());
    if !chars.get(unit_end).copied().is_some_and(is_word) {
        out.extend(&chars[j..unit_end]);
        return unit_end;
    }
    j
}

/// Masks the word `chars[start..end]` (which may continue as a number with
/// decimals); answers where the masked text ends.
fn push_word(chars: &[char], start: usize, end: usize, out: &mut String) -> usize {
    let word = &chars[start..end];
    let hex_digits = |w: &[char]| !w.is_empty() && w.iter().all(char::is_ascii_hexdigit);
    if word.len() > 2 && matches!(word[..2], ['0', 'x' | 'X']) && hex_digits(&word[2..]) {
        out.push_str("<hex>");
        return end;
    }
    let has_digit = word.iter().any(char::is_ascii_digit);
    let has_letter = word.iter().any(|c| c.is_ascii_alphabetic());
    if word.len() >= 8 && hex_digits(word) && has_digit && has_letter {
        out.push_str("<hex>");
        return end;
    }
    if !word[0].is_ascii_digit() {
        // Short digit runs name things (`v2`, `resnet50`, `int64`); longer ones are ids.
        let mut k = start;
        while k < end {
            let run = (k..end)
                .find(|&j| !chars[j].is_ascii_digit())
                .unwrap_or(end);
            if run - k >= 3 {
                out.push_str("<num>");
                k = run;
            } else if run > k {
                out.extend(&chars[k..run]);
                k = run;
            } else {
                out.push(chars[k]);
                k += 1;
            }
        }
        return end;
    }
    let digits_end = start + word.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = &chars[digits_end..end];
    if rest.iter().all(|c| c.is_alphabetic()) {
        return push_number(chars, start, out);
    }
    // A word starting with a digit that mixes more: every digit run masked.
    let mut k = start;
    while k < end {
        if chars[k].is_ascii_digit() {
            out.push_str("<num>");
            while k < end && chars[k].is_ascii_digit() {
                k += 1;
            }
        } else {
            out.push(chars[k]);
            k += 1;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_templates_are_cut() {
        let long = "word ".repeat(100);
        let t = template(&long);
        assert_eq!(t.chars().count(), MAX_TEMPLATE_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(template("  a\t\tb  "), "a b");
        assert_eq!(template(""), "");
    }
}
