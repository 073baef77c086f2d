#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lf_fuzz::smart_event(data);
});
