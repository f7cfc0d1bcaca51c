//! The storage-class readers: every SQLite time form, booleans, numbers, and what is refused.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::*;

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

#[test]
fn timestamps_in_every_sqlite_form() {
    for (stored, expected) in [
        (Stored::Text("2006-02-14"), "2006-02-14 00:00:00"),
        (Stored::Text("2006-02-14 10:20"), "2006-02-14 10:20:00"),
        (Stored::Text("2006-02-14T10:20"), "2006-02-14 10:20:00"),
        (Stored::Text("2006-02-14 10:20:30"), "2006-02-14 10:20:30"),
        (
            Stored::Text("2006-02-14 10:20:30.5"),
            "2006-02-14 10:20:30.5",
        ),
        (
            Stored::Text("2006-02-14 10:20:30.123"),
            "2006-02-14 10:20:30.123",
        ),
        (
            Stored::Text("2006-02-14 10:20:30.123456789000"),
            "2006-02-14 10:20:30.123456789",
        ),
        (Stored::Text("2006-02-14T10:20:30Z"), "2006-02-14 10:20:30"),
        (
            Stored::Text("2006-02-14T10:20:30.25z"),
            "2006-02-14 10:20:30.25",
        ),
        (
            Stored::Text("2006-02-14 10:20+02:00"),
            "2006-02-14 08:20:00",
        ),
        (
            Stored::Text("2006-02-14 00:20:30 -05:30"),
            "2006-02-14 05:50:30",
        ),
        (Stored::Text(" 2006-02-14 10:20:30 "), "2006-02-14 10:20:30"),
        (
            Stored::Text("2006-02-14T10:20:30+0200"),
            "2006-02-14 08:20:30",
        ),
        (
            Stored::Text("2006-02-14T10:20:30-02"),
            "2006-02-14 12:20:30",
        ),
        (Stored::Integer(1_139_912_430), "2006-02-14 10:20:30"),
        (Stored::Integer(0), "1970-01-01 00:00:00"),
        (Stored::Real(1_139_912_430.25), "2006-02-14 10:20:30.25"),
    ] {
        assert_eq!(timestamp(stored), Ok(at(expected)), "{stored:?}");
    }
}

#[test]
fn what_a_timestamp_column_refuses() {
    for stored in [
        Stored::Text("10:20"),
        Stored::Text("2006-02-31"),
        Stored::Text("2006-02-14 25:00"),
        Stored::Text("2006-02-14 10:20:30.1234567891"),
        Stored::Text("2006-02-14 10:20+15:00"),
        Stored::Text("2006-02-14x10:20"),
        Stored::Text("1139912430"),
        Stored::Text("now"),
        Stored::Text(""),
        Stored::Real(f64::NAN),
        Stored::Integer(i64::MAX),
        Stored::Blob(b"2006-02-14"),
    ] {
        assert!(timestamp(stored).is_err(), "{stored:?}");
    }
}

#[test]
fn dates_and_times() {
    let day = NaiveDate::from_ymd_opt(2006, 2, 14).unwrap();
    assert_eq!(date(Stored::Text("2006-02-14")), Ok(day));
    assert_eq!(date(Stored::Text("2006-02-14 00:00:00")), Ok(day));
    assert_eq!(date(Stored::Text("2006-02-14T02:00+02:00")), Ok(day));
    assert_eq!(date(Stored::Integer(1_139_875_200)), Ok(day));
    assert!(
        date(Stored::Text("2006-02-14 10:00")).is_err(),
        "a time would be lost"
    );
    assert!(date(Stored::Integer(1_139_875_201)).is_err());
    let time_of = |text| NaiveTime::parse_from_str(text, "%H:%M:%S%.f").unwrap();
    assert_eq!(time(Stored::Text("10:20")), Ok(time_of("10:20:00")));
    assert_eq!(time(Stored::Text("10:20:30.5")), Ok(time_of("10:20:30.5")));
    assert_eq!(
        time(Stored::Text("01:20:30+02:00")),
        Ok(time_of("23:20:30"))
    );
    assert_eq!(time(Stored::Text("10:20Z")), Ok(time_of("10:20:00")));
    assert!(
        time(Stored::Text("2006-02-14 10:20")).is_err(),
        "a date would be lost"
    );
    assert!(time(Stored::Integer(600)).is_err());
}

#[test]
fn booleans_in_every_form() {
    for (stored, expected) in [
        (Stored::Integer(0), false),
        (Stored::Integer(1), true),
        (Stored::Real(1.0), true),
        (Stored::Text("t"), true),
        (Stored::Text("F"), false),
        (Stored::Text("TRUE"), true),
        (Stored::Text("false"), false),
        (Stored::Text("1"), true),
    ] {
        assert_eq!(boolean(stored), Ok(expected), "{stored:?}");
    }
    for stored in [
        Stored::Integer(2),
        Stored::Integer(-1),
        Stored::Text("yes"),
        Stored::Text(""),
        Stored::Real(0.5),
        Stored::Blob(&[1]),
    ] {
        assert!(boolean(stored).is_err(), "{stored:?}");
    }
}

#[test]
fn numbers_served_as_stored_or_refused() {
    assert_eq!(integer::<i16>(Stored::Integer(7), "x"), Ok(7));
    assert_eq!(integer::<i16>(Stored::Real(7.0), "x"), Ok(7));
    assert_eq!(integer::<i16>(Stored::Text(" 7 "), "x"), Ok(7));
    for stored in [
        Stored::Text("t"),
        Stored::Integer(40_000),
        Stored::Real(7.5),
        Stored::Text("7.5"),
        Stored::Blob(&[7]),
    ] {
        assert!(integer::<i16>(stored, "x").is_err(), "{stored:?}");
    }
    assert_eq!(double(Stored::Text("1.25")), Ok(1.25));
    assert_eq!(double(Stored::Integer(3)), Ok(3.0));
    assert!(double(Stored::Text("NaN")).is_err());
    assert!(double(Stored::Text("abc")).is_err());
    assert!(
        double(Stored::Integer(i64::MAX)).is_err(),
        "not exact as a double"
    );
}

#[test]
fn refused_values_are_shown_as_sql_literals() {
    let shown = |stored: Stored<'_>| stored.refused("a boolean").to_string();
    assert_eq!(shown(Stored::Text("it's")), "text 'it''s' is not a boolean");
    assert_eq!(shown(Stored::Integer(2)), "integer 2 is not a boolean");
    assert_eq!(shown(Stored::Real(0.5)), "real 0.5 is not a boolean");
    assert_eq!(
        shown(Stored::Blob(&[0xAB, 1])),
        "blob X'AB01' (2 bytes) is not a boolean"
    );
}
