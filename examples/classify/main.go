// Command classify labels photographs with a ResNet-50 compiled by resnetc,
// preprocessing them exactly as torchvision's ImageNet evaluation transform
// does. It is meant to be copied into an application:
//
//	go run ./examples/classify -weights resnet50.safetensors photo.jpg cat.png
//
// The weights may be a torchvision checkpoint (.pth) or safetensors, such as
// resnetc weights convert makes from one. A file that cannot be read is
// reported and the others are still classified.
package main

import (
	"flag"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"os"
	"sort"

	"github.com/resnetc/resnetc/generated/resnet50"
	"github.com/resnetc/resnetc/imagenet"
	"github.com/resnetc/resnetc/weights"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process, for tests: it returns the exit status,
// 1 if any image failed, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weightsPath := fs.String("weights", "", "ResNet-50 weights: a torchvision checkpoint (.pth) or safetensors (required)")
	top := fs.Int("top", 5, "how many classes to print per image")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *weightsPath == "" || fs.NArg() == 0 || *top < 1 || *top > len(imagenet.Classes) {
		fmt.Fprintln(stderr, "usage: classify -weights FILE [-top N] IMAGE...")
		return 2
	}
	m := resnet50.New(0)
	if err := weights.Load(*weightsPath, m.Params()); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	m.WeightsChanged()

	// Decode and preprocess every image; keep going past bad ones.
	var names []string
	var batch []float32
	status := 0
	for _, path := range fs.Args() {
		x, err := load(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			status = 1
			continue
		}
		names = append(names, path)
		batch = append(batch, x...)
	}
	if len(names) == 0 {
		return status
	}
	logits, err := m.Forward(batch, len(names))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for i, name := range names {
		fmt.Fprintf(stdout, "%s:\n", name)
		probs := softmax(logits[i*resnet50.Classes : (i+1)*resnet50.Classes])
		for rank, c := range topK(probs, *top) {
			fmt.Fprintf(stdout, "  %d. %-30s %6.2f%%\n", rank+1, imagenet.Classes[c], 100*probs[c])
		}
	}
	return status
}

// load decodes an image file and applies the ImageNet transform.
func load(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("not a readable image: %v", err)
	}
	x, err := imagenet.Preprocess(img)
	if err != nil {
		return nil, fmt.Errorf("%s image: %v", format, err)
	}
	return x, nil
}

// softmax turns logits into probabilities, in float64.
func softmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	p := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// topK returns the indexes of the k largest values, largest first.
func topK(p []float64, k int) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	return idx[:k]
}
