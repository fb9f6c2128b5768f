//! Masking of wall-clock times in snapshots: RFC 3339 times from 2025 on. The golden
//! data's event times are all in 2024, so what is masked is creation, upload, generation
//! and log times.

/// Replaces every wall-clock time in `text` with `<now>`.
pub fn mask_wall_clock(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = wall_clock_at(&bytes[i..]) {
            out.push_str("<now>");
            i += len;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a timestamp `20YY-MM-DDTHH:MM:SS[.fff]Z` with YY ≥ 25 at the start of
/// `b`, if there is one.
fn wall_clock_at(b: &[u8]) -> Option<usize> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let is = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        .iter()
        .all(|&i| digit(i))
        && is(4, b'-')
        && is(7, b'-')
        && is(10, b'T')
        && is(13, b':')
        && is(16, b':');
    if !shape || &b[..2] != b"20" || (b[2] - b'0') * 10 + (b[3] - b'0') < 25 {
        return None;
    }
    let mut end = 19;
    if is(end, b'.') {
        end += 1;
        while digit(end) {
            end += 1;
        }
    }
    is(end, b'Z').then_some(end + 1)
}
