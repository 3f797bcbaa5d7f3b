#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wangge_fuzz::geo_targets::shapefile_zip(data));
