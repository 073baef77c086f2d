//! Every target over its corpus: the seeds give the verdict their names promise (so a harness
//! that refuses everything, or accepts everything, fails here), and the inputs a fuzzer once
//! failed on pass every check now.

use lf_fuzz::{TARGETS, Verdict, seeds};

#[test]
fn every_corpus_input_passes_its_target_and_seeds_get_their_verdict() {
    for (target, run) in TARGETS {
        let inputs = seeds(target).unwrap_or_else(|e| panic!("{target}: corpus unreadable: {e}"));
        let accepted = inputs
            .iter()
            .filter(|(n, _)| n.starts_with("accept-"))
            .count();
        let refused = inputs
            .iter()
            .filter(|(n, _)| n.starts_with("refuse-"))
            .count();
        assert!(
            accepted > 0 && refused > 0,
            "{target}: the corpus needs at least one accept- and one refuse- seed"
        );
        for (name, data) in &inputs {
            let verdict = run(data);
            if name.starts_with("accept-") {
                assert_eq!(verdict, Verdict::Accepted, "{target}/{name}");
            } else if name.starts_with("refuse-") {
                assert_eq!(verdict, Verdict::Refused, "{target}/{name}");
            }
        }
    }
}

#[test]
fn a_callout_is_accepted_only_as_signed() {
    // The callout target signs what it is given; the same bytes unsigned through the Outbound
    // Message target are refused (wrong content, not XML).
    let body = br#"{"v":1,"org_id":"00D000000000001","events":[{"event_id":"e-1","object":"Account","id":"001000000000001AAA"}]}"#;
    assert_eq!(lf_fuzz::flow_callout(body), Verdict::Accepted);
    assert_eq!(lf_fuzz::outbound_message(body), Verdict::Refused);
}
