#!/usr/bin/env bash
# Prints the one-line summary of every network of the paper, as README.md
# quotes it: go build, then resnetc check on each spec and depth.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/resnetc
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/resnetc
for spec in resnet18 resnet34 resnet50 resnet50_v1 resnet101 resnet152 plain18 plain34; do
  "$bin" check "specs/$spec.rn"
done
for n in 3 5 7 9 18 200; do
  printf 'n=%-3s ' "$n"; "$bin" check -D n="$n" specs/cifar_resnet.rn
done
for n in 3 5 7 9; do
  printf 'n=%-3s ' "$n"; "$bin" check -D n="$n" specs/cifar_plain.rn
done
