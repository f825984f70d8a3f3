//! The text forms of values in `collection.toml`, parsed exactly: SOL amounts (to lamports,
//! never rounded), durations (`7d`, `1d12h`), RFC 3339 times (to Unix seconds) and base58
//! Solana addresses. Errors are sentences that name the text and say what would be valid.

use super::LAMPORTS_PER_SOL;

/// Parses a SOL amount (`"1"`, `"0.25"`, `"1.000000001"`) into lamports, exactly.
pub fn parse_sol(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("\"{text}\" is not a SOL amount; write a decimal such as \"0.5\" (at most 9 decimals)");
    if t.is_empty() || t.starts_with('-') {
        return Err(if t.starts_with('-') { format!("\"{text}\" is negative") } else { bad() });
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let frac_trim = frac.trim_end_matches('0');
    if frac_trim.len() > 9 {
        return Err(format!("\"{text}\" has more than 9 decimals; 1 lamport is 0.000000001 SOL"));
    }
    let too_big = || format!("\"{text}\" SOL is more lamports than fit in 64 bits");
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_big())? };
    let f: u64 = if frac_trim.is_empty() { 0 } else { format!("{frac_trim:0<9}").parse().map_err(|_| bad())? };
    w.checked_mul(LAMPORTS_PER_SOL).and_then(|x| x.checked_add(f)).ok_or_else(too_big)
}

/// Parses `"30s"`, `"10m"`, `"2h"`, `"7d"`, `"1w"` or a sum like `"1d12h"` into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad =
        || format!("\"{text}\" is not a duration; write e.g. \"30s\", \"10m\", \"2h\", \"7d\", \"1w\" or \"1d12h\"");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for ch in t.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let unit: i64 = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit).and_then(|x| total.checked_add(x)).ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("\"{text}\" has a number without a unit; add s, m, h, d or w"));
    }
    if total == 0 {
        return Err(format!("\"{text}\" is zero; a later stage must unlock after the mint"));
    }
    Ok(total)
}

/// Parses an RFC 3339 date-time (`2027-01-01T00:00:00Z`, `2027-01-01T09:00:00+09:00`,
/// fractions of a second are dropped) into unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("\"{text}\" is not an RFC 3339 date-time; write e.g. \"2027-01-01T00:00:00Z\"");
    let t = text.trim().as_bytes();
    if t.len() < 19 {
        return Err(bad());
    }
    let num = |a: usize, b: usize| -> Result<i64, String> {
        let s = std::str::from_utf8(&t[a..b]).map_err(|_| bad())?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    if t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b't' | b' ') || t[13] != b':' || t[16] != b':' {
        return Err(bad());
    }
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    if t.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset = match t.get(i) {
        Some(b'Z' | b'z') if i + 1 == t.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == t.len() && t[i + 3] == b':' => {
            let o = num(i + 1, i + 3)? * 3600 + num(i + 4, i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return Err(format!("\"{text}\" needs a time zone: end it with Z or an offset like +02:00")),
    };
    let days_in_month = [31, if is_leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month[(mo - 1) as usize] || h > 23 || mi > 59 || s > 60 {
        return Err(format!("\"{text}\" is not a real date and time"));
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59) - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes a base58 Solana address into its 32 bytes.
pub fn decode_address(text: &str) -> Result<[u8; 32], String> {
    if text.is_empty() {
        return Err("is empty; give the creator's Solana address (base58)".into());
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(32);
    for ch in text.bytes() {
        let Some(digit) = BASE58.iter().position(|&c| c == ch) else {
            return Err(format!("\"{text}\" is not base58 (character '{}' is not allowed)", ch as char));
        };
        let mut carry = digit as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes.into_iter().skip_while(|&b| b == 0));
    <[u8; 32]>::try_from(out.as_slice())
        .map_err(|_| format!("\"{text}\" decodes to {} bytes, a Solana address has 32", out.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sol_amounts_convert_exactly() {
        assert_eq!(parse_sol("1").unwrap(), 1_000_000_000);
        assert_eq!(parse_sol("0.25").unwrap(), 250_000_000);
        assert_eq!(parse_sol(".5").unwrap(), 500_000_000);
        assert_eq!(parse_sol("1.000000001").unwrap(), 1_000_000_001);
        assert_eq!(parse_sol("0.1000000000").unwrap(), 100_000_000);
        assert!(parse_sol("0.0000000001").unwrap_err().contains("9 decimals"));
        assert!(parse_sol("-1").unwrap_err().contains("negative"));
        assert!(parse_sol("1e3").is_err());
        assert!(parse_sol("").is_err());
        assert!(parse_sol("99999999999999999999").unwrap_err().contains("64 bits"));
    }

    #[test]
    fn durations_parse_units_and_sums() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        for bad in ["", "7", "d", "7x", "0s", "-1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_gives_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("2027-01-01T00:00:00Z").unwrap(), 1_798_761_600);
        assert_eq!(parse_rfc3339("2027-01-01T09:00:00+09:00").unwrap(), 1_798_761_600);
        assert_eq!(parse_rfc3339("2024-02-29T12:30:15.250Z").unwrap(), 1_709_209_815);
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2027-01-01T00:00:00").unwrap_err().contains("time zone"));
        assert!(parse_rfc3339("tomorrow").is_err());
    }

    #[test]
    fn base58_addresses_decode_to_32_bytes() {
        // The system program: 32 zero bytes.
        assert_eq!(decode_address("11111111111111111111111111111111").unwrap(), [0u8; 32]);
        let token = decode_address("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA").unwrap();
        assert_eq!(hex::encode(token), "06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9");
        assert!(decode_address("0OIl").unwrap_err().contains("base58"));
        assert!(decode_address("abc").unwrap_err().contains("32"));
    }
}
