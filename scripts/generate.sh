#!/usr/bin/env bash
# Regenerates every package under generated/ from the specs. CI runs it and
# fails if the committed output differs. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/resnetc
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/resnetc
# Start from nothing, so that a package dropped from this list shows up as
# deleted instead of lingering.
find generated -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
"$bin" specs/resnet18.rn -o generated
"$bin" specs/resnet50.rn -o generated
"$bin" specs/resnet152.rn -o generated
"$bin" -D n=3 specs/cifar_resnet.rn -name resnet20 -o generated
"$bin" -D n=9 specs/cifar_resnet.rn -name resnet56 -o generated
"$bin" -D n=18 specs/cifar_resnet.rn -name resnet110 -o generated
"$bin" -D n=3 specs/cifar_plain.rn -name plain20 -o generated
"$bin" -D n=9 specs/cifar_plain.rn -name plain56 -o generated
