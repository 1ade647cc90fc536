#!/usr/bin/env bash
# Builds the library with the `ffi` feature, generates the Python, Kotlin and Swift
# bindings from it with the crate's own uniffi-bindgen, and tests them:
#
#   - Python: bindings/python/test_hemlis.py (unittest, standard library only) with a
#     relay written in Python;
#   - Kotlin: bindings/kotlin/HemlisTest.kt on the JVM through JNA, with a relay in Kotlin;
#   - Swift: no Swift compiler here, so the generated C header is compiled with gcc and a C
#     program generated from hemlis.swift runs the same load-time checks the Swift
#     bindings run (contract version and the checksum of every exported function) against
#     the built library.
#
# Installs what is missing: kotlinc from npm (into target/bindings-tools), JNA, a JDK,
# python3 and gcc from Debian. Exits non-zero on any failure. Linux only.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never

KOTLIN_VERSION=2.4.20 # npm package kotlin-compiler, pinned
OUT=target/bindings
TOOLS=target/bindings-tools
LIB_DIR=$OUT/lib # the built library, copied out of target/debug
LIB=$LIB_DIR/libhemlis_ffi.so
START=$SECONDS

step() { echo "== $* (at ${SECONDS}s)"; }

APT_UPDATED=
apt_install() {
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "need root (or sudo) to install: $*" >&2; exit 1; }
        sudo=sudo
    fi
    if [ -z "$APT_UPDATED" ]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

step "tools"
command -v python3 >/dev/null || apt_install python3
command -v gcc >/dev/null || apt_install gcc libc6-dev
command -v java >/dev/null || apt_install openjdk-17-jdk-headless
[ -f /usr/share/java/jna.jar ] || apt_install libjna-java
KOTLINC=$TOOLS/node_modules/kotlin-compiler/bin/kotlinc
if [ ! -x "$KOTLINC" ]; then
    command -v npm >/dev/null || apt_install npm
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "kotlin-compiler@$KOTLIN_VERSION"
fi
python3 --version
java -version 2>&1 | head -n 1
gcc --version | head -n 1

step "cargo build --all-features --tests --lib --bins"
# The build `cargo test --all-features` makes (the same features, dev-dependencies
# included, so after it nothing but this crate's own units is rebuilt): the library and the
# generator. The library tested here therefore also carries the generator (feature
# `bindgen`), which adds code but changes nothing it exports; an app builds with
# `hemlis-ffi` without the `bindgen` feature (docs/MOBILE.md).
cargo build --all-features --tests --lib --bins
rm -rf "$OUT"
mkdir -p "$LIB_DIR"
cp target/debug/libhemlis_ffi.so "$LIB_DIR/"

step "generate bindings from $LIB"
for lang in python kotlin swift; do
    target/debug/uniffi-bindgen \
        generate --library "$LIB" --language "$lang" --no-format --out-dir "$OUT/$lang"
done

step "python: bindings/python/test_hemlis.py"
cp "$LIB" "$OUT/python/"
python3 hemlis-ffi/bindings/python/test_hemlis.py "$OUT/python"

step "kotlin: bindings/kotlin/HemlisTest.kt (kotlinc $KOTLIN_VERSION, JNA, JVM)"
KT_SOURCES=("$OUT/kotlin/uniffi/hemlis/hemlis.kt" hemlis-ffi/bindings/kotlin/HemlisTest.kt)
# The async functions of the bindings need kotlinx.coroutines; the compiler ships its jar.
KT_CP="/usr/share/java/jna.jar:$(dirname "$KOTLINC")/../lib/kotlinx-coroutines-core-jvm.jar"
# Compiling takes about a minute: reuse the jar when the sources are unchanged.
KT_HASH=$(cat "${KT_SOURCES[@]}" | sha256sum | cut -c1-16)
KT_JAR=$TOOLS/kotlin-test-$KOTLIN_VERSION-$KT_HASH.jar
if [ ! -f "$KT_JAR" ]; then
    rm -rf "$TOOLS"/kotlin-test-*.jar
    # (-include-runtime needs a -d that ends in .jar.)
    rm -rf "$TOOLS/kotlin-build" && mkdir -p "$TOOLS/kotlin-build"
    "$KOTLINC" -nowarn -cp "$KT_CP" "${KT_SOURCES[@]}" -include-runtime \
        -d "$TOOLS/kotlin-build/hemlis-test.jar"
    mv "$TOOLS/kotlin-build/hemlis-test.jar" "$KT_JAR"
else
    echo "(sources unchanged: reusing $KT_JAR)"
fi
java -Djna.library.path="$LIB_DIR" -cp "$KT_JAR:$KT_CP" HemlisTestKt

step "swift: the generated C header, and the Swift bindings' load-time checks in C"
# gcc does not know Clang's nullability qualifiers; everything else is plain C11.
CFLAGS=(-std=c11 -Wall -Wextra -Werror -D_Nonnull= -D_Nullable= -I "$OUT/swift")
printf '#include "hemlisFFI.h"\n' > "$OUT/header_check.c"
gcc -fsyntax-only "${CFLAGS[@]}" "$OUT/header_check.c"
echo "hemlisFFI.h: compiles"
# hemlis.swift checks at load time that the library has its contract version and the
# checksum of every function it calls; the same checks, in C.
{
    echo '#include <stdio.h>'
    echo '#include "hemlisFFI.h"'
    echo 'int main(void) {'
    echo '    int checked = 0, failed = 0;'
    sed -n 's/^ *let bindings_contract_version = \([0-9]*\)$/    checked++; if (ffi_hemlis_ffi_uniffi_contract_version() != \1) { puts("contract version mismatch"); failed++; }/p' "$OUT/swift/hemlis.swift"
    sed -n 's/^ *if (\(uniffi_hemlis_ffi_checksum_[a-z0-9_]*\)() != \([0-9]*\)) {$/    checked++; if (\1() != \2) { puts("checksum mismatch: \1"); failed++; }/p' "$OUT/swift/hemlis.swift"
    echo '    printf("swift: %d passed, %d failed\n", checked - failed, failed);'
    echo '    return failed != 0 || checked < 2;'
    echo '}'
} > "$OUT/swift_checks.c"
gcc "${CFLAGS[@]}" "$OUT/swift_checks.c" -L "$LIB_DIR" -lhemlis_ffi -o "$OUT/swift_checks"
LD_LIBRARY_PATH="$LIB_DIR" "$OUT/swift_checks"

step "bindings: all passed in $((SECONDS - START))s"
