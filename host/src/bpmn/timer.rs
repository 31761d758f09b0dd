//! Timer definitions (`timerEventDefinition`) and what their values mean.
//!
//! A timer's value is ISO 8601, read with jiff, never by hand:
//! - `timeDate`: a date-time (`2027-01-01T09:00:00Z`, an offset, a
//!   `[Zone/Name]` suffix, or none: then UTC), or a date (midnight UTC);
//! - `timeDuration`: a duration (`PT1H`, `P1DT12H`, `PT0.5S`), counted from
//!   when the timer is armed;
//! - `timeCycle`: a repeating interval, `R[n]/duration`, `R[n]/start/duration`,
//!   `R[n]/duration/end` or `R[n]/start/end` (`n` absent: for ever).
//!
//! A value that reads as such a literal is one; anything else is an
//! expression, evaluated in the sandbox against the task's data when the timer
//! is armed (SpiffWorkflow writes `"PT1H"`, quotes included, or a variable), and
//! its result must then read as a literal of the timer's kind.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Unit, Zoned};

/// Which child of `timerEventDefinition` gives the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// `timeDate`: fires once, at a point in time.
    Date,
    /// `timeDuration`: fires once, a duration after it is armed.
    Duration,
    /// `timeCycle`: fires at each occurrence of a repeating interval.
    Cycle,
}

impl TimerKind {
    /// The element name (`timeDate`, `timeDuration`, `timeCycle`).
    pub fn element_name(self) -> &'static str {
        match self {
            TimerKind::Date => "timeDate",
            TimerKind::Duration => "timeDuration",
            TimerKind::Cycle => "timeCycle",
        }
    }

    /// What a value of this kind looks like, for messages.
    fn example(self) -> &'static str {
        match self {
            TimerKind::Date => "an ISO 8601 date-time such as 2027-01-01T09:00:00Z",
            TimerKind::Duration => "an ISO 8601 duration such as PT1H",
            TimerKind::Cycle => "an ISO 8601 repeating interval such as R3/PT10S or R/2027-01-01T09:00:00Z/P1D",
        }
    }
}

/// A `timerEventDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerDef {
    /// Which value it has.
    pub kind: TimerKind,
    /// The value as written (trimmed).
    pub text: String,
    /// Whether `text` is an expression to evaluate (it does not read as a literal).
    pub expression: bool,
    /// The line of the value's element in the file.
    pub line: u32,
}

impl TimerDef {
    /// A definition of `kind` with value `text`; a cron expression is
    /// refused here, rather than taken for an expression that cannot parse.
    pub fn new(kind: TimerKind, text: String, line: u32) -> Result<TimerDef, String> {
        if kind == TimerKind::Cycle && looks_like_cron(&text) {
            return Err(format!(
                "timeCycle `{text}`: cron expressions are not supported yet; write {}",
                kind.example()
            ));
        }
        let expression = Schedule::parse(kind, &text).is_err();
        Ok(TimerDef {
            kind,
            text,
            expression,
            line,
        })
    }
}

/// What a timer's value means, once read.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Fires once at this time.
    At(Timestamp),
    /// Fires once, this long after it is armed.
    After(Span),
    /// Fires at each occurrence.
    Cycle(Cycle),
}

/// A repeating interval.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// How many times it fires in all; `None`: for ever.
    pub repetitions: Option<u32>,
    /// The first occurrence; `None`: one interval after it is armed.
    pub start: Option<Timestamp>,
    /// The time between occurrences.
    pub interval: Span,
    /// No occurrence comes after this.
    pub end: Option<Timestamp>,
}

impl Schedule {
    /// Reads a literal value of `kind`, or says why it is none.
    pub fn parse(kind: TimerKind, text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let wrong = |why: String| format!("{} `{text}` is not {}: {why}", kind.element_name(), kind.example());
        match kind {
            TimerKind::Date => date_time(text).map(Schedule::At).map_err(wrong),
            TimerKind::Duration => duration(text).map(Schedule::After).map_err(wrong),
            TimerKind::Cycle => cycle(text).map(Schedule::Cycle).map_err(wrong),
        }
    }

    /// When it first fires, if armed at `armed`; `None` when it never does (a
    /// cycle whose end has passed, or `R0`).
    pub fn first_due(&self, armed: Timestamp) -> Result<Option<Timestamp>, String> {
        match self {
            Schedule::At(at) => Ok(Some(*at)),
            Schedule::After(span) => add(armed, *span).map(Some),
            Schedule::Cycle(cycle) => {
                if cycle.repetitions == Some(0) {
                    return Ok(None);
                }
                let first = match cycle.start {
                    Some(start) => start,
                    None => add(armed, cycle.interval)?,
                };
                Ok(Some(first).filter(|&due| cycle.end.is_none_or(|end| due <= end)))
            }
        }
    }
}

impl Cycle {
    /// The first occurrence after both `previous` (the last one) and `now`:
    /// occurrences that fell due while nothing ran are passed over (the timer
    /// fired once for all of them). Occurrences count from the cycle's start
    /// (or from `previous`), so monthly ones stay on their day. `None` once
    /// past the cycle's end.
    pub fn next_after(&self, previous: Timestamp, now: Timestamp) -> Result<Option<Timestamp>, String> {
        let anchor = self.start.filter(|&start| start <= previous).unwrap_or(previous);
        let after = previous.max(now);
        let next = if self.interval.get_years() == 0 && self.interval.get_months() == 0 {
            // Intervals of one length: skip ahead by arithmetic.
            let length = self
                .interval
                .total((Unit::Millisecond, jiff::SpanRelativeTo::days_are_24_hours()))
                .map_err(|e| e.to_string())?
                .max(1.0) as i64;
            let elapsed = after.as_millisecond() - anchor.as_millisecond();
            let k = elapsed / length + 1;
            let at = anchor.as_millisecond().saturating_add(k.saturating_mul(length));
            Timestamp::from_millisecond(at).map_err(|e| e.to_string())?
        } else {
            // Calendar intervals step, each step at least 28 days long.
            let mut k = 1i64;
            loop {
                let span = self.interval.checked_mul(k).map_err(|e| e.to_string())?;
                let at = add(anchor, span)?;
                if at > after {
                    break at;
                }
                k += 1;
            }
        };
        Ok(Some(next).filter(|&due| self.end.is_none_or(|end| due <= end)))
    }
}

/// `at` plus `span`, in UTC (so a day is 24 hours and a month a calendar month).
fn add(at: Timestamp, span: Span) -> Result<Timestamp, String> {
    at.to_zoned(TimeZone::UTC)
        .checked_add(span)
        .map(|zoned| zoned.timestamp())
        .map_err(|e| format!("{at} + {span} is out of range: {e}"))
}

/// An ISO 8601 date-time: with an offset, a zone, neither (UTC), or a date alone.
fn date_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    if let Ok(zoned) = text.parse::<Zoned>() {
        return Ok(zoned.timestamp());
    }
    if let Ok(civil) = text.parse::<DateTime>() {
        return civil
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    match text.parse::<Date>() {
        Ok(date) => date
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A positive ISO 8601 duration (`P...`).
fn duration(text: &str) -> Result<Span, String> {
    if !text.starts_with(['P', 'p']) {
        return Err("an ISO 8601 duration starts with P".into());
    }
    let span: Span = text.parse().map_err(|e: jiff::Error| e.to_string())?;
    if span.is_negative() {
        return Err("a timer's duration cannot be negative".into());
    }
    Ok(span)
}

/// An ISO 8601 repeating interval.
fn cycle(text: &str) -> Result<Cycle, String> {
    if looks_like_cron(text) {
        return Err("cron expressions are not supported in timeCycle yet".into());
    }
    let mut parts = text.split('/');
    let head = parts.next().unwrap_or_default();
    let count = head
        .strip_prefix(['R', 'r'])
        .ok_or("a repeating interval starts with R (R3/... fires 3 times, R/... for ever)")?;
    let repetitions = match count {
        "" | "-1" => None,
        n => Some(
            n.parse::<u32>()
                .map_err(|_| format!("`{n}` after R is not a number of repetitions"))?,
        ),
    };
    let rest: Vec<&str> = parts.collect();
    let is_duration = |part: &str| part.starts_with(['P', 'p']);
    let (start, interval, end) = match rest.as_slice() {
        [one] if is_duration(one) => (None, duration(one)?, None),
        [first, second] if is_duration(first) => {
            let (interval, end) = (duration(first)?, date_time(second)?);
            // Its intervals end at `end`: the first begins one interval before.
            let start = end
                .to_zoned(TimeZone::UTC)
                .checked_sub(interval)
                .map_err(|e| e.to_string())?
                .timestamp();
            (Some(start), interval, Some(end))
        }
        [first, second] if is_duration(second) => (Some(date_time(first)?), duration(second)?, None),
        [first, second] => {
            let (start, end) = (date_time(first)?, date_time(second)?);
            if end <= start {
                return Err("its end comes before its start".into());
            }
            let interval = start
                .to_zoned(TimeZone::UTC)
                .until(&end.to_zoned(TimeZone::UTC))
                .map_err(|e| e.to_string())?;
            (Some(start), interval, None)
        }
        _ => return Err("write R[n]/duration, R[n]/start/duration or R[n]/duration/end".into()),
    };
    if interval.is_zero() {
        return Err("its interval is zero".into());
    }
    Ok(Cycle {
        repetitions,
        start,
        interval,
        end,
    })
}

/// Five to seven fields of cron characters (`0 0 9 * * ?`): said to be
/// unsupported rather than evaluated as an expression.
fn looks_like_cron(text: &str) -> bool {
    let fields: Vec<&str> = text.split_whitespace().collect();
    (5..=7).contains(&fields.len())
        && fields.iter().all(|field| {
            field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '/' | ',' | '-' | '#'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn dates_read_with_an_offset_a_zone_none_or_as_a_day() {
        let parse = |text| match Schedule::parse(TimerKind::Date, text) {
            Ok(Schedule::At(t)) => t,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(parse("2027-01-01T09:00:00Z"), at("2027-01-01T09:00:00Z"));
        assert_eq!(parse("2027-01-01T10:00:00+01:00"), at("2027-01-01T09:00:00Z"));
        assert_eq!(parse("2027-07-01T11:00:00[Europe/Paris]"), at("2027-07-01T09:00:00Z"));
        assert_eq!(parse("2027-01-01T09:00:00"), at("2027-01-01T09:00:00Z"));
        assert_eq!(parse("2027-01-01"), at("2027-01-01T00:00:00Z"));
        let error = Schedule::parse(TimerKind::Date, "next tuesday").unwrap_err();
        assert!(
            error.contains("timeDate `next tuesday` is not an ISO 8601 date-time"),
            "{error}"
        );
    }

    #[test]
    fn durations_count_from_when_the_timer_is_armed() {
        let armed = at("2027-01-31T12:00:00Z");
        let due = |text| {
            Schedule::parse(TimerKind::Duration, text)
                .unwrap()
                .first_due(armed)
                .unwrap()
        };
        assert_eq!(due("PT1H"), Some(at("2027-01-31T13:00:00Z")));
        assert_eq!(due("PT0.5S"), Some(at("2027-01-31T12:00:00.5Z")));
        assert_eq!(due("P1DT12H"), Some(at("2027-02-02T00:00:00Z")));
        // A calendar month from 31 January is the end of February.
        assert_eq!(due("P1M"), Some(at("2027-02-28T12:00:00Z")));
        for bad in ["1h", "-PT1H", "PT", "soon"] {
            assert!(Schedule::parse(TimerKind::Duration, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cycles_have_counts_starts_ends_and_skip_what_was_missed() {
        let armed = at("2027-01-01T00:00:00Z");
        let Schedule::Cycle(three) = Schedule::parse(TimerKind::Cycle, "R3/PT10S").unwrap() else {
            panic!()
        };
        assert_eq!(three.repetitions, Some(3));
        let first = Schedule::Cycle(three.clone()).first_due(armed).unwrap().unwrap();
        assert_eq!(first, at("2027-01-01T00:00:10Z"));
        assert_eq!(
            three.next_after(first, first).unwrap(),
            Some(at("2027-01-01T00:00:20Z"))
        );
        // An hour went by unseen: the next occurrence is the first after it.
        let late = at("2027-01-01T01:00:05Z");
        assert_eq!(three.next_after(first, late).unwrap(), Some(at("2027-01-01T01:00:10Z")));

        let Schedule::Cycle(daily) = Schedule::parse(TimerKind::Cycle, "R/2027-01-01T09:00:00Z/P1D").unwrap() else {
            panic!()
        };
        assert_eq!(daily.repetitions, None);
        let first = Schedule::Cycle(daily.clone()).first_due(armed).unwrap();
        assert_eq!(first, Some(at("2027-01-01T09:00:00Z")));
        let monthly = cycle("R/2027-01-31T00:00:00Z/P1M").unwrap();
        let after = monthly.next_after(at("2027-01-31T00:00:00Z"), at("2027-04-01T00:00:00Z"));
        assert_eq!(after.unwrap(), Some(at("2027-04-30T00:00:00Z")));

        let ending = cycle("R/PT1H/2027-01-01T03:00:00Z").unwrap();
        assert_eq!(ending.start, Some(at("2027-01-01T02:00:00Z")));
        assert_eq!(
            ending.next_after(at("2027-01-01T02:00:00Z"), armed).unwrap(),
            Some(at("2027-01-01T03:00:00Z"))
        );
        assert_eq!(ending.next_after(at("2027-01-01T03:00:00Z"), armed).unwrap(), None);
        let between = cycle("R2/2027-01-01T00:00:00Z/2027-01-01T00:30:00Z").unwrap();
        assert_eq!(between.interval.get_minutes(), 30);
        assert_eq!(
            Schedule::Cycle(cycle("R0/PT1S").unwrap()).first_due(armed).unwrap(),
            None
        );
        for bad in [
            "PT1H",
            "R/",
            "Rx/PT1S",
            "R/PT0S",
            "R/2027-01-02T00:00:00Z/2027-01-01T00:00:00Z",
        ] {
            assert!(Schedule::parse(TimerKind::Cycle, bad).is_err(), "{bad}");
        }
        let cron = Schedule::parse(TimerKind::Cycle, "0 0 9 * * ?").unwrap_err();
        assert!(cron.contains("cron expressions are not supported"), "{cron}");
    }

    #[test]
    fn what_is_no_literal_is_an_expression() {
        let def = |kind, text: &str| TimerDef::new(kind, text.into(), 1);
        assert!(!def(TimerKind::Duration, "PT1M").unwrap().expression);
        assert!(def(TimerKind::Duration, "\"PT1M\"").unwrap().expression);
        assert!(def(TimerKind::Date, "deadline").unwrap().expression);
        // Cron is refused, not taken for an expression that would not parse.
        let cron = def(TimerKind::Cycle, "0 0 9 * * ?").unwrap_err();
        assert!(cron.contains("cron expressions are not supported yet"), "{cron}");
        assert!(def(TimerKind::Cycle, "R/PT1H").is_ok());
    }
}
