//! Generates the foreign-language bindings (Kotlin, Swift, Python) from the built library;
//! see docs/MOBILE.md and hemlis-ffi/bindings/run-tests.sh.

fn main() {
    uniffi::uniffi_bindgen_main()
}
