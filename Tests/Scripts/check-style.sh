#!/usr/bin/env bash
# The style gate of `make test`: `swift format lint` with the committed .swift-format (line length 120), and no
# hand-written Swift file over 400 lines. protoc's generated *.pb.swift files are exempt from both.
set -euo pipefail
cd "$(dirname "$0")/../.."
SWIFT=${SWIFT:-swift}
mapfile -t files < <(find Sources Tests -name '*.swift' ! -name '*.pb.swift' | sort)
"$SWIFT" format lint --strict --configuration .swift-format "${files[@]}"
long=$(wc -l "${files[@]}" | awk '$2 != "total" && $1 > 400 { print "  " $2 " (" $1 " lines)" }')
if [ -n "$long" ]; then
    echo "check-style: these files are over 400 lines; split them by topic into Name+Topic.swift files:"
    echo "$long"
    exit 1
fi
echo "check-style: swift format lint clean, no file over 400 lines (${#files[@]} files)"
