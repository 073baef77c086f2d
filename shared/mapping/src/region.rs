//! Country and state/province normalization on ISO 3166-1 / 3166-2 data (`rust_iso3166`):
//! "USA", "United States", "us" → `US` / `USA` / "United States"; "California" → `CA`.

use std::sync::LazyLock;

// Fixed tables of ISO data read for every record: foldhash, as nothing a record carries is
// ever inserted (SipHash guards against that, and costs more per lookup).
use foldhash::{HashMap, HashMapExt};

use rust_iso3166::CountryCode;
use rust_iso3166::iso3166_2::Subdivision;

use crate::spec::{CountryFormat, StateFormat};

/// Names people write that are not the ISO name (which is often the long official form).
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("us", "US"),
    ("united states", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
    ("deutschland", "DE"),
    ("holland", "NL"),
    ("netherlands", "NL"),
    ("russia", "RU"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("north korea", "KP"),
    ("vietnam", "VN"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("ivory coast", "CI"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("iran", "IR"),
    ("syria", "SY"),
    ("tanzania", "TZ"),
    ("taiwan", "TW"),
    ("laos", "LA"),
    ("moldova", "MD"),
    ("macedonia", "MK"),
    ("uae", "AE"),
    ("turkey", "TR"),
    ("hong kong", "HK"),
    ("macau", "MO"),
    ("brunei", "BN"),
    ("cape verde", "CV"),
    ("swaziland", "SZ"),
    ("micronesia", "FM"),
    ("palestine", "PS"),
    ("vatican", "VA"),
];

/// Short names used when writing a country name, where the ISO name is the long official one.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("KR", "South Korea"),
    ("KP", "North Korea"),
    ("RU", "Russia"),
    ("VN", "Vietnam"),
    ("BO", "Bolivia"),
    ("VE", "Venezuela"),
    ("IR", "Iran"),
    ("SY", "Syria"),
    ("TZ", "Tanzania"),
    ("TW", "Taiwan"),
    ("LA", "Laos"),
    ("MD", "Moldova"),
    ("NL", "Netherlands"),
    ("CZ", "Czech Republic"),
    ("TR", "Turkey"),
];

/// Lower-case, punctuation dropped, spaces collapsed, no leading "the".
fn key(s: &str) -> String {
    // "U.S.A." is "usa"; "Guinea-Bissau" is "guinea bissau".
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c == '.' || c == '\'' {
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    match out.strip_prefix("the ") {
        Some(rest) => rest.to_owned(),
        None => out,
    }
}

static COUNTRIES: LazyLock<HashMap<String, &'static CountryCode>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for c in rust_iso3166::ALL {
        m.insert(key(c.name), c);
        // "Bolivia (Plurinational State of)" is also found as "Bolivia".
        if let Some((short, _)) = c.name.split_once(" (") {
            m.entry(key(short)).or_insert(c);
        }
    }
    // Codes win over names that happen to be spelled the same.
    for c in rust_iso3166::ALL {
        m.insert(c.alpha2.to_ascii_lowercase(), c);
        m.insert(c.alpha3.to_ascii_lowercase(), c);
    }
    for (alias, code) in COUNTRY_ALIASES {
        if let Some(c) = rust_iso3166::ALL.iter().find(|c| c.alpha2 == *code) {
            m.insert((*alias).to_owned(), c);
        }
    }
    m
});

/// Countries by the exact text most records carry (`US`, `USA`, `United States`), so the
/// common case costs one lookup and no allocation.
static EXACT: LazyLock<HashMap<&'static str, &'static CountryCode>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for c in rust_iso3166::ALL {
        m.insert(c.name, c);
        m.insert(c.alpha2, c);
        m.insert(c.alpha3, c);
        if let Some((_, short)) = SHORT_NAMES.iter().find(|(code, _)| *code == c.alpha2) {
            m.insert(*short, c);
        }
    }
    m
});

/// Finds a country by code (2 or 3 letters), ISO name or a common alias.
pub(crate) fn country(input: &str) -> Option<&'static CountryCode> {
    if let Some(c) = EXACT.get(input) {
        return Some(c);
    }
    COUNTRIES.get(&key(input)).copied()
}

/// Writes a country in the requested form.
pub(crate) fn format_country(c: &CountryCode, format: CountryFormat) -> &'static str {
    match format {
        CountryFormat::Iso2 => c.alpha2,
        CountryFormat::Iso3 => c.alpha3,
        CountryFormat::Name => SHORT_NAMES
            .iter()
            .find(|(code, _)| *code == c.alpha2)
            .map(|(_, n)| *n)
            .unwrap_or(c.name),
    }
}

/// (country alpha-2, key of name or region code) → subdivision; and name → subdivisions.
struct States {
    by_country: HashMap<(&'static str, String), Subdivision>,
    by_name: HashMap<String, Vec<Subdivision>>,
}

/// The countries whose states are recognized without a country (the usual CRM address data).
const DEFAULT_STATE_COUNTRIES: [&str; 3] = ["US", "CA", "AU"];

static STATES: LazyLock<States> = LazyLock::new(|| {
    let mut by_country = HashMap::new();
    let mut by_name: HashMap<String, Vec<Subdivision>> = HashMap::new();
    for c in rust_iso3166::ALL {
        for s in c.subdivisions().unwrap_or(&[]) {
            by_country.insert((c.alpha2, key(s.name)), *s);
            by_country.insert((c.alpha2, s.region_code.to_ascii_lowercase()), *s);
            if DEFAULT_STATE_COUNTRIES.contains(&c.alpha2) {
                by_name.entry(key(s.name)).or_default().push(*s);
                by_name
                    .entry(s.region_code.to_ascii_lowercase())
                    .or_default()
                    .push(*s);
            }
        }
    }
    States {
        by_country,
        by_name,
    }
});

/// States by country and their exact name or code, for the common case without allocation.
static EXACT_STATES: LazyLock<HashMap<&'static str, HashMap<&'static str, Subdivision>>> =
    LazyLock::new(|| {
        let mut m: HashMap<&'static str, HashMap<&'static str, Subdivision>> = HashMap::new();
        for c in rust_iso3166::ALL {
            let inner = m.entry(c.alpha2).or_default();
            for s in c.subdivisions().unwrap_or(&[]) {
                inner.insert(s.name, *s);
                inner.insert(s.region_code, *s);
            }
        }
        m
    });

/// Finds a state or province by name or code, within `country` when known. Without a country,
/// US, Canadian and Australian states are searched; a name found in two of them is ambiguous.
pub(crate) fn state(input: &str, country_code: Option<&str>) -> Result<Subdivision, String> {
    // Most records carry the code or the exact name: `CA`, `California`.
    if let Some(c) = country_code.and_then(country)
        && let Some(s) = EXACT_STATES.get(c.alpha2).and_then(|m| m.get(input.trim()))
    {
        return Ok(*s);
    }
    let k = key(input);
    if let Some(cc) = country_code {
        let c = country(cc).ok_or_else(|| format!("unknown country `{cc}`"))?;
        return STATES
            .by_country
            .get(&(c.alpha2, k))
            .copied()
            .ok_or_else(|| format!("`{input}` is not a state or province of {}", c.alpha2));
    }
    match STATES.by_name.get(&k).map(Vec::as_slice) {
        Some([one]) => Ok(*one),
        Some(many) if !many.is_empty() => {
            let codes: Vec<&str> = many.iter().map(|s| s.code).collect();
            Err(format!(
                "`{input}` is ambiguous ({}); give the country path in the `state` transform",
                codes.join(", ")
            ))
        }
        _ => Err(format!(
            "`{input}` is not a US, Canadian or Australian state; give the country path in the `state` transform"
        )),
    }
}

/// Writes a state in the requested form.
pub(crate) fn format_state(s: &Subdivision, format: StateFormat) -> &'static str {
    match format {
        StateFormat::Code => s.region_code,
        StateFormat::Name => s.name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_by_code_name_and_alias() {
        for input in [
            "US",
            "usa",
            "United States",
            "U.S.A.",
            "United States of America",
            "840x",
        ] {
            let found = country(input).map(|c| c.alpha2);
            if input == "840x" {
                assert_eq!(found, None);
            } else {
                assert_eq!(found, Some("US"), "{input}");
            }
        }
        assert_eq!(country("Deutschland").map(|c| c.alpha3), Some("DEU"));
        assert_eq!(country("the Netherlands").map(|c| c.alpha2), Some("NL"));
        assert_eq!(country("Bolivia").map(|c| c.alpha2), Some("BO"));
        let gb = country("gbr").unwrap();
        assert_eq!(format_country(gb, CountryFormat::Name), "United Kingdom");
        assert_eq!(
            format_country(country("FR").unwrap(), CountryFormat::Name),
            "France"
        );
    }

    #[test]
    fn states_by_name_or_code() {
        assert_eq!(state("California", None).unwrap().region_code, "CA");
        assert_eq!(state("ontario", None).unwrap().region_code, "ON");
        assert_eq!(state("New South Wales", None).unwrap().region_code, "NSW");
        assert_eq!(
            format_state(&state("tx", None).unwrap(), StateFormat::Name),
            "Texas"
        );
        // WA is Washington and Western Australia.
        assert!(state("WA", None).unwrap_err().contains("ambiguous"));
        assert_eq!(
            state("WA", Some("Australia")).unwrap().name,
            "Western Australia"
        );
        assert_eq!(state("Bayern", Some("DE")).map(|s| s.region_code), Ok("BY"));
        assert!(state("Atlantis", None).is_err());
    }
}
