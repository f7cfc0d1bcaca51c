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

    /// Text with exactly `scale` fraction digits, rounded half away from zero. (One buffer of
    /// digits and the text: every decimal a list or an export serves is written here.)
    pub fn to_scale(&self, scale: usize) -> String {
        let fraction = self.fraction.as_bytes();
        let mut integer_digits = self.integer.len();
        let mut digits: Vec<u8> = Vec::with_capacity(integer_digits + scale + 1);
        digits.extend_from_slice(self.integer.as_bytes());
        digits.extend_from_slice(&fraction[..fraction.len().min(scale)]);
        digits.resize(integer_digits + scale, b'0');
        if fraction.len() > scale && fraction[scale] >= b'5' {
            let mut carry = true;
            for digit in digits.iter_mut().rev() {
                if *digit == b'9' {
                    *digit = b'0';
                } else {
                    *digit += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                digits.insert(0, b'1');
                integer_digits += 1;
            }
        }
        let zero = digits.iter().all(|&digit| digit == b'0');
        fn text(digits: &[u8]) -> &str {
            std::str::from_utf8(digits).expect("ascii digits")
        }
        let mut out = String::with_capacity(digits.len() + 3);
        if self.negative && !zero {
            out.push('-');
        }
        match integer_digits {
            0 => out.push('0'),
            _ => out.push_str(text(&digits[..integer_digits])),
        }
        if scale > 0 {
            out.push('.');
            out.push_str(text(&digits[integer_digits..]));
        }
        out
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
        // Four decimal digits a group, written by hand: a `format!` per group was a visible
        // share of a PostgreSQL export's time (profiled).
        fn push_group(text: &mut String, group: i16) {
            let group = group.clamp(0, 9999) as u16;
            for divisor in [1000, 100, 10, 1] {
                text.push(char::from(b'0' + ((group / divisor) % 10) as u8));
            }
        }
        let mut integer = String::new();
        let mut fraction = String::new();
        if weight >= 0 {
            for index in 0..=weight as usize {
                push_group(&mut integer, digits.get(index).copied().unwrap_or(0));
            }
            for group in digits.iter().skip(weight as usize + 1) {
                push_group(&mut fraction, *group);
            }
        } else {
            fraction.push_str(&"0000".repeat((-i32::from(weight) - 1) as usize));
            for group in digits {
                push_group(&mut fraction, *group);
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

impl DecimalDigits {
    /// This value divided by `divisor`, rounded half away from zero to `scale` fraction digits:
    /// an average of exact decimals. The quotient is cut after one more digit, which is the
    /// only one rounding looks at, so cutting there rounds exactly as the exact quotient would.
    pub fn divided_by(&self, divisor: u64, scale: usize) -> String {
        assert!(
            divisor > 0,
            "an average of no values is null, not a division"
        );
        let mut fraction = self.fraction.clone();
        while fraction.len() < scale + 1 {
            fraction.push('0');
        }
        let dividend = format!("{}{fraction}", self.integer);
        let mut quotient = String::with_capacity(dividend.len());
        let mut remainder: u128 = 0;
        for digit in dividend.bytes() {
            remainder = remainder * 10 + u128::from(digit - b'0');
            quotient.push(char::from(b'0' + (remainder / u128::from(divisor)) as u8));
            remainder %= u128::from(divisor);
        }
        let point = quotient.len() - fraction.len();
        let digits = DecimalDigits {
            negative: self.negative,
            integer: quotient[..point].trim_start_matches('0').to_string(),
            fraction: quotient[point..point + scale + 1].to_string(),
        };
        digits.to_scale(scale)
    }
}

/// The exact sum of decimals, however many: SQLite's own `SUM` adds them as doubles
/// (`0.1 + 0.2` is `0.30000000000000004`), so its sums of `numeric` columns are made here
/// (`connections::db` registers this as an SQLite aggregate function).
///
/// Positive and negative values are added up apart, each as an unsigned digit string, and
/// subtracted once at the end: addition of magnitudes is all the per-row work there is.
/// (Hand-written rather than the `bigdecimal` crate: this is the one operation needed, on
/// the [`DecimalDigits`] values that are parsed here anyway.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactSum {
    positive: Magnitude,
    negative: Magnitude,
}

/// An unsigned decimal: its digits, least significant first, of the value times 10^`scale`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Magnitude {
    digits: Vec<u8>,
    scale: usize,
}

impl Magnitude {
    fn add(&mut self, integer: &str, fraction: &str) {
        if fraction.len() > self.scale {
            let shift = fraction.len() - self.scale;
            self.digits.splice(0..0, std::iter::repeat_n(0, shift));
            self.scale = fraction.len();
        }
        let padding = self.scale - fraction.len();
        let addend = std::iter::repeat_n(0u8, padding).chain(
            integer
                .bytes()
                .chain(fraction.bytes())
                .rev()
                .map(|digit| digit - b'0'),
        );
        let mut carry = 0u8;
        let mut position = 0;
        for digit in addend {
            if position == self.digits.len() {
                self.digits.push(0);
            }
            let total = self.digits[position] + digit + carry;
            self.digits[position] = total % 10;
            carry = total / 10;
            position += 1;
        }
        while carry > 0 {
            if position == self.digits.len() {
                self.digits.push(0);
            }
            let total = self.digits[position] + carry;
            self.digits[position] = total % 10;
            carry = total / 10;
            position += 1;
        }
    }

    /// The digits, most significant first, padded to `scale` fraction digits and `width` in all.
    fn aligned(&self, scale: usize, width: usize) -> Vec<u8> {
        let mut digits: Vec<u8> = std::iter::repeat_n(0, scale - self.scale)
            .chain(self.digits.iter().copied())
            .collect();
        digits.resize(width, 0);
        digits.reverse();
        digits
    }
}

impl ExactSum {
    /// Adds one value.
    pub fn add(&mut self, value: &DecimalDigits) {
        let magnitude = if value.negative {
            &mut self.negative
        } else {
            &mut self.positive
        };
        magnitude.add(&value.integer, &value.fraction);
    }

    /// The sum so far.
    pub fn total(&self) -> DecimalDigits {
        let scale = self.positive.scale.max(self.negative.scale);
        let width = (self.positive.digits.len() + scale - self.positive.scale)
            .max(self.negative.digits.len() + scale - self.negative.scale)
            .max(scale);
        let positive = self.positive.aligned(scale, width);
        let negative = self.negative.aligned(scale, width);
        let negative_result = negative > positive;
        let (larger, smaller) = if negative_result {
            (negative, positive)
        } else {
            (positive, negative)
        };
        let mut difference = vec![0u8; width];
        let mut borrow = 0i8;
        for position in (0..width).rev() {
            let mut digit = larger[position] as i8 - smaller[position] as i8 - borrow;
            borrow = i8::from(digit < 0);
            if digit < 0 {
                digit += 10;
            }
            difference[position] = digit as u8;
        }
        let text: String = difference
            .iter()
            .map(|digit| char::from(b'0' + digit))
            .collect();
        let (integer, fraction) = text.split_at(width - scale);
        DecimalDigits {
            negative: negative_result,
            integer: integer.trim_start_matches('0').to_string(),
            fraction: fraction.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum_of(values: &[&str]) -> String {
        let mut sum = ExactSum::default();
        for value in values {
            sum.add(&DecimalDigits::parse(value).unwrap());
        }
        let total = sum.total();
        let scale = total.fraction.len();
        total.to_scale(scale)
    }

    #[test]
    fn exact_sums_do_not_drift_like_doubles() {
        assert_eq!(sum_of(&["0.1", "0.2"]), "0.3");
        assert_eq!(sum_of(&["12.50", "-0.125", "3"]), "15.375");
        assert_eq!(sum_of(&["-1.5", "0.25"]), "-1.25");
        assert_eq!(sum_of(&["-1", "1"]), "0");
        assert_eq!(
            sum_of(&["999999999999999999.999999", "0.000001"]),
            "1000000000000000000.000000"
        );
        assert_eq!(sum_of(&[]), "0");
        let many: Vec<String> = (0..10_000).map(|_| "0.1".to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(sum_of(&many), "1000.0");
    }

    #[test]
    fn division_rounds_half_away_from_zero_at_the_scale() {
        let digits = |text| DecimalDigits::parse(text).unwrap();
        assert_eq!(digits("10").divided_by(3, 4), "3.3333");
        assert_eq!(digits("20").divided_by(3, 4), "6.6667");
        assert_eq!(digits("-20").divided_by(3, 4), "-6.6667");
        assert_eq!(digits("0.00005").divided_by(1, 4), "0.0001");
        assert_eq!(digits("0.000049999").divided_by(1, 4), "0.0000");
        assert_eq!(digits("7.5").divided_by(2, 0), "4");
        assert_eq!(
            digits("123456789012345678901234.5").divided_by(5, 2),
            "24691357802469135780246.90"
        );
    }

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
