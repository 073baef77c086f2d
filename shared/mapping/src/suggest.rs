//! "Did you mean" for misspelt names: keys, transforms, fields, lookup tables, entities.

/// The closest candidate to `word` when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["trim", "upper", "truncate", "lookup"];
        assert_eq!(did_you_mean("trimm", names), Some("trim"));
        assert_eq!(did_you_mean("lokup", names), Some("lookup"));
        assert_eq!(did_you_mean("Upper", names), Some("upper"));
        assert_eq!(did_you_mean("zebra", names), None);
    }
}
