package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/resnetc/resnetc/nn"
)

// momentumTensor is the checkpoint's name for SGD's momentum buffer.
const momentumTensor = "optimizer.momentum"

// SaveCheckpoint writes everything a run needs to continue: the model's
// state_dict (weights, BN running statistics and counters), SGD's
// momentum and step count, the iteration, and the seed and batch size
// from which the data order and augmentation of every later iteration
// follow (the run's random state is a pure function of them). The file is
// safetensors with a SHA-256 of its tensor data in the metadata, written
// to a temporary name, synced and renamed, so a crash leaves either the
// old checkpoint or the new one.
func SaveCheckpoint(path string, net Net, cfg Config, iteration int, seconds float64, w Window) error {
	if err := net.pull(); err != nil {
		return err
	}
	ts := nn.ParamTensors(net.Model.Params())
	mom := net.Trainer.Momentum()
	data := make([]byte, 0, 4*len(mom))
	for _, v := range mom {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	ts = append(ts, nn.Tensor{Name: momentumTensor, DType: "F32", Shape: []int{len(mom)}, Data: data})
	h := sha256.New()
	for _, t := range ts {
		h.Write(t.Data)
	}
	meta := map[string]string{
		"format":    "resnetc-checkpoint-1",
		"model":     net.Name,
		"iteration": strconv.Itoa(iteration),
		"steps":     strconv.Itoa(net.Trainer.Steps()),
		"seed":      strconv.FormatUint(cfg.Seed, 10),
		"batch":     strconv.Itoa(cfg.Batch),
		"seconds":   strconv.FormatFloat(seconds, 'f', 3, 64),
		"sha256":    hex.EncodeToString(h.Sum(nil)),
		"window":    fmt.Sprintf("%d %d %d %x", w.Steps, w.Seen, w.Wrong, math.Float64bits(w.Loss)),
	}
	return nn.WriteSafetensors(path, ts, meta)
}

// LoadCheckpoint restores net from a checkpoint that SaveCheckpoint wrote
// for the same model, seed and batch size, and returns the iteration to
// continue from and the wall time spent so far. A damaged file (wrong
// checksum, truncated, foreign) is reported and nothing is changed.
func LoadCheckpoint(path string, net Net, cfg Config) (iteration int, seconds float64, w Window, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, Window{}, err
	}
	fail := func(format string, a ...any) (int, float64, Window, error) {
		return 0, 0, Window{}, fmt.Errorf("%s: corrupt or foreign checkpoint, not loaded: %s", path, fmt.Sprintf(format, a...))
	}
	meta, dataStart, err := nn.SafetensorsMetadata(raw)
	if err != nil {
		return fail("%v", err)
	}
	if meta["format"] != "resnetc-checkpoint-1" {
		return fail("format %q, want resnetc-checkpoint-1", meta["format"])
	}
	sum := sha256.Sum256(raw[dataStart:])
	if hex.EncodeToString(sum[:]) != meta["sha256"] {
		return fail("the tensor data's SHA-256 does not match the one recorded when it was written")
	}
	if meta["model"] != net.Name {
		return 0, 0, Window{}, fmt.Errorf("%s: a checkpoint of %s, not of %s", path, meta["model"], net.Name)
	}
	if meta["seed"] != strconv.FormatUint(cfg.Seed, 10) || meta["batch"] != strconv.Itoa(cfg.Batch) {
		return 0, 0, Window{}, fmt.Errorf("%s: written with seed %s and batch %s; resuming with seed %d and batch %d would not continue the same run",
			path, meta["seed"], meta["batch"], cfg.Seed, cfg.Batch)
	}
	it, err1 := strconv.Atoi(meta["iteration"])
	steps, err2 := strconv.Atoi(meta["steps"])
	secs, err3 := strconv.ParseFloat(meta["seconds"], 64)
	var bits uint64
	_, err4 := fmt.Sscanf(meta["window"], "%d %d %d %x", &w.Steps, &w.Seen, &w.Wrong, &bits)
	w.Loss = math.Float64frombits(bits)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || it < 0 || steps < 0 {
		return fail("bad iteration, steps, seconds or window in the metadata")
	}
	ts, err := nn.ParseSafetensors(raw)
	if err != nil {
		return fail("%v", err)
	}
	var mom *nn.Tensor
	params := ts[:0:0]
	for i := range ts {
		if ts[i].Name == momentumTensor {
			mom = &ts[i]
			continue
		}
		params = append(params, ts[i])
	}
	want := len(net.Trainer.Momentum())
	if mom == nil || mom.DType != "F32" || len(mom.Shape) != 1 || mom.Shape[0] != want {
		return fail("no %s tensor of %d floats", momentumTensor, want)
	}
	if err := nn.CheckTensors(params, net.Model.Params()); err != nil {
		return 0, 0, Window{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := nn.LoadTensors(params, net.Model.Params()); err != nil {
		return 0, 0, Window{}, fmt.Errorf("%s: %w", path, err)
	}
	nn.DecodeFloats(net.Trainer.Momentum(), *mom)
	net.Trainer.SetSteps(steps)
	net.Model.WeightsChanged()
	if net.Mirror != nil {
		if err := net.Mirror.Push(); err != nil {
			return 0, 0, Window{}, fmt.Errorf("train: sending %s's checkpoint to the device: %w", net.Name, err)
		}
	}
	return it, secs, w, nil
}

// Window is the training loss and error accumulated since the last
// metrics row; a checkpoint keeps it so that a resumed run logs the same
// rows as an uninterrupted one.
type Window struct {
	Steps, Seen, Wrong int
	Loss               float64
}

// SaveMean writes the per-pixel training mean (values in 0..1) as the
// tensor pixel_mean of shape C x H x W.
func SaveMean(path string, mean []float32, net Net) error {
	data := make([]byte, 0, 4*len(mean))
	for _, v := range mean {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	return nn.WriteSafetensors(path, []nn.Tensor{{Name: "pixel_mean", DType: "F32", Shape: []int{net.C, net.H, net.W}, Data: data}},
		map[string]string{"format": "resnetc-mean-1"})
}

// LoadMean reads what SaveMean wrote, for a network of net's input shape.
func LoadMean(path string, net Net) ([]float32, error) {
	ts, err := nn.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	mean := make([]float32, net.C*net.H*net.W)
	p := []nn.Param{{Name: "pixel_mean", Shape: []int{net.C, net.H, net.W}, Data: mean}}
	if err := nn.LoadTensors(ts, p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mean, nil
}
