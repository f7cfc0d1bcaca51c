//! Exact decimal numbers as text: parsing, rounding to a column's scale, and PostgreSQL's wire form.

use diesel::pg::data_types::PgNumeric;

/// A decimal number split into sign and digit strings; exponents are folded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalDigits {
    pub negative: bool,
    /// Digits before the point, without leading zeros (empty for zero).
    pub integer: String,
    /// Digits after the point, as written (trailing zeros kept).
    pub fraction: String,
}

impl DecimalDigits {
    /// Parses `-12.50`, `+3`, `.5`, `5.`, `1e3`, `1.5E-7`. Rejects everything else,
    /// including `NaN` and infinities, which a `numeric(p, s)` column cannot hold.
    pub fn parse(text: &str) -> Option<DecimalDigits> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (integer, fraction) = match mantissa.find('.') {
            Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
            None => (mantissa, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty() && fraction.is_empty()
            || !all_digits(integer)
            || !all_digits(fraction)
        {
            return None;
        }
        if exponent.unsigned_abs() > 4096 {
            return None;
        }
        let mut digits = format!("{integer}{fraction}");
        let mut point = integer.len() as i64 + exponent as i64;
        if point < 0 {
            digits.insert_str(0, &"0".repeat((-point) as usize));
            point = 0;
        }
        if point as usize > digits.len() {
            digits.push_str(&"0".repeat(point as usize - digits.len()));
        }
        let (integer, fraction) = digits.split_at(point as usize);
        Some(DecimalDigits {
            negative,
            integer: integer.trim_start_matches('0').to_string(),
            fraction: fraction.to_string(),
        })
    }

    /// Digits before the point, ignoring leading zeros.
    pub fn integer_digit_count(&self) -> usize {
        self.integer.len()
    }

    /// Digits after the point, ignoring trailing zeros.
    pub fn significant_fraction_digit_count(&self) -> usize {
        self.fraction.trim_end_matches('0').len()
    }

    fn is_zero(&self) -> bool {
        self.integer.is_empty() && self.fraction.bytes().all(|b| b == b'0')
    }

    /// Text with exactly `scale` fraction digits, rounded half away from zero.
    pub fn to_scale(&self, scale: usize) -> String {
        let mut fraction: Vec<u8> = self.fraction.bytes().collect();
        let mut integer: Vec<u8> = self.integer.bytes().collect();
        let round_up = fraction.len() > scale && fraction[scale] >= b'5';
        fraction.resize(scale, b'0');
        if round_up {
            let mut carry = true;
            for digit in fraction.iter_mut().rev().chain(integer.iter_mut().rev()) {
                if *digit == b'9' {
                    *digit = b'0';
                } else {
                    *digit += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                integer.insert(0, b'1');
            }
        }
        let integer = String::from_utf8(integer).expect("ascii digits");
        let fraction = String::from_utf8(fraction).expect("ascii digits");
        let rounded = DecimalDigits {
            negative: self.negative,
            integer,
            fraction,
        };
        let sign = if rounded.negative && !rounded.is_zero() {
            "-"
        } else {
            ""
        };
        let integer = if rounded.integer.is_empty() {
            "0"
        } else {
            &rounded.integer
        };
        if scale == 0 {
            format!("{sign}{integer}")
        } else {
            format!("{sign}{integer}.{}", rounded.fraction)
        }
    }

    /// PostgreSQL's base-10000 representation of this exact value.
    pub fn to_pg_numeric(&self) -> PgNumeric {
        let integer_width = self.integer.len().div_ceil(4) * 4;
        let fraction_width = self.fraction.len().div_ceil(4) * 4;
        let padded = format!(
            "{:0>integer_width$}{:0<fraction_width$}",
            self.integer, self.fraction
        );
        let mut groups: Vec<i16> = padded
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                std::str::from_utf8(chunk)
                    .expect("ascii")
                    .parse()
                    .expect("digits")
            })
            .collect();
        let mut weight = (integer_width / 4) as i16 - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let scale = self.fraction.len() as u16;
        if self.negative && !groups.is_empty() {
            PgNumeric::Negative {
                weight,
                scale,
                digits: groups,
            }
        } else {
            PgNumeric::Positive {
                weight,
                scale,
                digits: groups,
            }
        }
    }

    /// The exact value of a PostgreSQL numeric; `None` for NaN.
    pub fn from_pg_numeric(numeric: &PgNumeric) -> Option<DecimalDigits> {
        let (negative, weight, scale, digits) = match numeric {
            PgNumeric::Positive {
                weight,
                scale,
                digits,
            } => (false, *weight, *scale, digits),
            PgNumeric::Negative {
                weight,
                scale,
                digits,
            } => (true, *weight, *scale, digits),
            PgNumeric::NaN => return None,
        };
        let mut integer = String::new();
        let mut fraction = String::new();
        if weight >= 0 {
            for index in 0..=weight as usize {
                let group = digits.get(index).copied().unwrap_or(0);
                integer.push_str(&format!("{group:04}"));
            }
            for group in digits.iter().skip(weight as usize + 1) {
                fraction.push_str(&format!("{group:04}"));
            }
        } else {
            fraction.push_str(&"0000".repeat((-i32::from(weight) - 1) as usize));
            for group in digits {
                fraction.push_str(&format!("{group:04}"));
            }
        }
        fraction.truncate(scale as usize);
        while fraction.len() < scale as usize {
            fraction.push('0');
        }
        Some(DecimalDigits {
            negative,
            integer: integer.trim_start_matches('0').to_string(),
            fraction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_scale(input: &str, scale: usize, expected: &str) {
        let parsed = DecimalDigits::parse(input).unwrap_or_else(|| panic!("{input} should parse"));
        assert_eq!(parsed.to_scale(scale), expected, "{input} at scale {scale}");
    }

    #[test]
    fn parses_and_rounds_to_scale() {
        check_scale("12.5", 2, "12.50");
        check_scale("-0.005", 2, "-0.01");
        check_scale("-0.004", 2, "0.00");
        check_scale("9.999", 2, "10.00");
        check_scale("1e3", 1, "1000.0");
        check_scale("1.5E-3", 4, "0.0015");
        check_scale("0.30000000000000004", 6, "0.300000");
        check_scale(".5", 0, "1");
        check_scale("+7.", 0, "7");
        check_scale("000123.4500", 3, "123.450");
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for input in [
            "", "-", ".", "abc", "1.2.3", "NaN", "inf", "1e", "--1", "1,5", "0x10",
        ] {
            assert_eq!(
                DecimalDigits::parse(input),
                None,
                "{input:?} must be rejected"
            );
        }
    }

    fn round_trip(input: &str, scale: usize) {
        let parsed = DecimalDigits::parse(input).unwrap();
        let exact = DecimalDigits::parse(&parsed.to_scale(scale)).unwrap();
        let back = DecimalDigits::from_pg_numeric(&exact.to_pg_numeric()).unwrap();
        assert_eq!(back.to_scale(scale), parsed.to_scale(scale), "{input}");
    }

    #[test]
    fn pg_numeric_round_trips() {
        for input in [
            "0",
            "1",
            "-1",
            "12.5",
            "10000",
            "123456789.000001",
            "0.0001",
            "0.00001234",
            "-99999999.99",
        ] {
            round_trip(input, 6);
            round_trip(input, 0);
        }
    }

    #[test]
    fn pg_numeric_matches_postgres_layout() {
        let value = DecimalDigits::parse("12345.678").unwrap().to_pg_numeric();
        assert_eq!(
            value,
            PgNumeric::Positive {
                weight: 1,
                scale: 3,
                digits: vec![1, 2345, 6780]
            }
        );
        let value = DecimalDigits::parse("-0.0001").unwrap().to_pg_numeric();
        assert_eq!(
            value,
            PgNumeric::Negative {
                weight: -1,
                scale: 4,
                digits: vec![1]
            }
        );
    }
}
