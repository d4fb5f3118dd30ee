#!/usr/bin/env bash
# Prepares what gpu/check.sh carries to a GPU machine that has no Java: a JRE made by jlink
# (only the modules the CLI needs, xz-packed) and the CLI jar without what a linux-x86_64 GPU
# run never loads (other platforms' JNA natives, the PDF fonts of the plots). Writes gpu/kit/
# (ignored by git; carry it: the device tool's `carry: ["gpu/kit"]`), with a demo world, the ops
# tests and JUnit's console launcher: ~51 MiB.
# Usage: gpu/prepare.sh   (from the repository root, on a machine with Java 17+ and Maven)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kit="$root/gpu/kit"
jar="$root/trainer/target/asft.jar"
if [[ ! -f "$jar" || -n "${REBUILD:-}" ]]; then
  (cd "$root" && mvn -B -q package -DskipTests)
fi
rm -rf "$kit" && mkdir -p "$kit"
cp "$jar" "$kit/asft.jar"
# JNA ships natives for every platform; the GPU machine is linux-x86_64 (zip -d wants patterns).
zip -q -d "$kit/asft.jar" 'com/sun/jna/aix-*' 'com/sun/jna/darwin-*' 'com/sun/jna/freebsd-*' 'com/sun/jna/linux-a*' \
  'com/sun/jna/linux-loongarch64/*' 'com/sun/jna/linux-mips64el/*' 'com/sun/jna/linux-ppc*' 'com/sun/jna/linux-riscv64/*' \
  'com/sun/jna/linux-s390x/*' 'com/sun/jna/linux-x86/*' 'com/sun/jna/openbsd-*' 'com/sun/jna/sunos-*' 'com/sun/jna/win32-*' \
  'org/apache/pdfbox/resources/ttf/*' >/dev/null || true
# The modules the jar uses (jdeps), minus java.desktop (plots: the demo only, not run there);
# uncompressed modules, which xz packs to 12.9 MB (jlink's own zip inside xz: 19.4 MB).
modules="java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.sql,java.naming"
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=0 --output "$kit/jre" >/dev/null
tar -C "$kit" -cJf "$kit/jre.tar.xz" jre
rm -rf "$kit/jre"
# A smoke-size demo world (seconds to build; its aligned model has the exact world judge) and the
# study's prompt files for it, for eval-safety / eval-task on both devices.
"$root/asft" demo build-world --size smoke --out "$kit/world" >/dev/null 2>&1
"$root/asft" demo --smoke --world "$kit/world" --out "$kit/demo" >/dev/null 2>&1
rm -rf "$kit"/world-seed*  # the study's other worlds
mkdir -p "$kit/prompts" && cp "$kit/demo/data/harmful_eval.jsonl" "$kit/demo/data/task_eval.jsonl" "$kit/prompts/" && rm -rf "$kit/demo"
# The ops tests (TensorOpsTest: every op of the cuda ops against the reference; CudaBackendTest)
# and JUnit's console launcher, to run them there.
(cd "$root" && mvn -B -q test-compile -pl java-api)
jar cf "$kit/java-api-tests.jar" -C "$root/java-api/target/test-classes" .
junit=org.junit.platform:junit-platform-console-standalone:1.14.4
mvn -B -q dependency:copy -Dartifact=$junit -DoutputDirectory="$kit" -Dmdep.stripVersion=true -f "$root/pom.xml" -N >/dev/null
git -C "$root" rev-parse HEAD > "$kit/commit"
du -sb "$kit"/* | awk '{printf "%-40s %6.1f MiB\n", $2, $1 / 1048576}'
du -sb "$kit" | awk '{printf "gpu/kit: %.1f MiB (the device tool carries at most 64 MiB with the working tree)\n", $1 / 1048576}'
