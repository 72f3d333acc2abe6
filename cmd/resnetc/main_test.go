package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	code, out, errs := runCLI("check", "../../specs/resnet50.rn")
	want := "resnet50: 3x224x224 -> 1000 classes, 50 weighted layers (174 operations), 25,557,032 parameters, 4,089,184,256 multiply-adds (4.09 GMACs)\n"
	if code != 0 || out != want || errs != "" {
		t.Errorf("check resnet50: code %d\nstdout %q\nstderr %q\nwant %q", code, out, errs, want)
	}
	code, out, _ = runCLI("check", "-D", "n=18", "cifar_resnet")
	if code != 0 || !strings.Contains(out, "1,727,962 parameters") {
		t.Errorf("check -D n=18 cifar_resnet: code %d, %q", code, out)
	}
}

func TestCheckReportsErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.rn")
	if err := os.WriteFile(path, []byte("network bad\ninput 3 x 8 x 8\nc1: conv 8 3x3 pad 1\navgpol\nfc: fc 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI("check", path)
	want := path + `:4:1: unknown operation "avgpol": expected one of avgpool, bn, conv, fc, maxpool, relu; did you mean "avgpool"?` + "\n"
	if code != 1 || out != "" || errs != want {
		t.Errorf("code %d\nstdout %q\nstderr %q\nwant   %q", code, out, errs, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate", "resnet50"},
		{"check"},
		{"check", "resnet18", "resnet34"},
		{"stats", "-bogus", "resnet18"},
		{"check", "-D", "novalue", "resnet18"},
	} {
		if code, _, errs := runCLI(args...); code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
	if code, _, errs := runCLI("check", "-D", "depth=3", "cifar_resnet"); code != 1 ||
		errs != "specs/cifar_resnet.rn: -D depth=3: the spec has no parameter \"depth\"\n" {
		t.Errorf("unknown -D: exit %d, stderr %q", code, errs)
	}
}

func TestStatsJSON(t *testing.T) {
	code, out, errs := runCLI("stats", "-json", "-D", "n=9", "cifar_resnet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Params *int64 `json:"params"`
		MACs   *int64 `json:"macs"`
		Layers []struct {
			Name   string `json:"name"`
			Op     string `json:"op"`
			Shape  []int  `json:"shape"`
			Params int64  `json:"params"`
			MACs   int64  `json:"macs"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Params == nil || *r.Params != 853_018 || r.MACs == nil || len(r.Layers) == 0 {
		t.Fatalf("bad JSON: %.300s", out)
	}
	if l := r.Layers[0]; l.Name != "conv1" || l.Op != "conv" || len(l.Shape) != 3 || l.Params != 432 {
		t.Errorf("first layer %+v", l)
	}
}

func TestStatsTable(t *testing.T) {
	code, out, _ := runCLI("stats", "resnet18")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 70 {
		t.Fatalf("exit %d, %d lines", code, len(lines))
	}
	if !strings.HasPrefix(lines[0], "layer ") || !strings.HasSuffix(lines[len(lines)-1], "11,689,512  1,814,073,344") {
		t.Errorf("header %q\ntotal %q", lines[0], lines[len(lines)-1])
	}
}

func TestGraph(t *testing.T) {
	code, out, errs := runCLI("graph", "../../specs/resnet34.rn")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{`digraph "resnet34" {`, `subgraph "cluster_layer2" {`, `subgraph "cluster_layer2.0" {`,
		`label="identity"`, `downsample.0: conv 1x1 /2`, "style=dashed"} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %q", want)
		}
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz is not installed; the DOT text was checked")
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(out)
	svg, err := cmd.Output()
	if err != nil {
		t.Fatalf("dot rejects the graph: %v", err)
	}
	if !bytes.Contains(svg, []byte("layer4.2")) {
		t.Errorf("rendered graph lacks the last block")
	}
}
