package cudagen

// hostRuntime is the part of the host package that does not depend on the
// network's layers; PKG stands for the CPU package's name.
const hostRuntime = `
// Model is a PKG network on a CUDA device: the parameter slab, the folded
// inference weights and the inference arena live in device memory.
type Model struct {
	ctx    cu.CUContext
	mod    cu.Module
	k      kernels
	params cu.DevicePtr
	folded cu.DevicePtr
	arena  cu.DevicePtr // inference arena for capacity images
	input  cu.DevicePtr
	cap    int
	counts []int64
	stale  bool
	err    error
	logits []float32
}

// New compiles the kernels for device 0 (NVRTC, or the PTX cached under the
// user's cache folder), and uploads the weights, BN statistics and counters
// of src.
func New(src *cpu.Model) (*Model, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(0)
	if err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	major, err := dev.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	minor, err := dev.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	ptx, err := Compile(major, minor)
	if err != nil {
		return nil, err
	}
	ctx, err := dev.MakeContext(cu.SchedAuto)
	if err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	m := &Model{ctx: ctx, stale: true, counts: make([]int64, len(counters))}
	if m.mod, err = cu.LoadData(ptx); err != nil {
		m.Close()
		return nil, fmt.Errorf("PKG/cuda: loading the PTX: %w", err)
	}
	if err := m.k.load(m.mod); err != nil {
		m.Close()
		return nil, err
	}
	if m.params, err = cu.MemAlloc(4 * paramFloats); err == nil {
		m.folded, err = cu.MemAlloc(4 * foldFloats)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	if err := m.upload(src); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// enter makes the model's context current on a locked OS thread, as CUDA
// contexts belong to threads and goroutines move between them.
func (m *Model) enter() func() {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(m.ctx); err != nil && m.err == nil {
		m.err = fmt.Errorf("PKG/cuda: %w", err)
	}
	return runtime.UnlockOSThread
}

// Upload replaces the device's weights, BN statistics and counters with
// src's, after the host changed them (a loaded checkpoint).
func (m *Model) Upload(src *cpu.Model) error {
	defer m.enter()()
	if m.err != nil {
		return m.err
	}
	return m.upload(src)
}

// upload copies every tensor of src to the device.
func (m *Model) upload(src *cpu.Model) error {
	ci := 0
	for _, p := range src.Params() {
		if p.Count != nil {
			m.counts[ci] = *p.Count
			ci++
			continue
		}
		s, ok := slab[p.Name]
		if !ok || s.n != len(p.Data) {
			return fmt.Errorf("PKG/cuda: tensor %s does not match the generated layout", p.Name)
		}
		if err := cu.MemcpyHtoD(m.params+cu.DevicePtr(4*s.off), unsafe.Pointer(&p.Data[0]), int64(4*s.n)); err != nil {
			return fmt.Errorf("PKG/cuda: uploading %s: %w", p.Name, err)
		}
	}
	m.stale = true
	return nil
}

// Download copies the device's weights, BN statistics and counters into dst.
func (m *Model) Download(dst *cpu.Model) error {
	defer m.enter()()
	if m.err != nil {
		return m.err
	}
	ci := 0
	for _, p := range dst.Params() {
		if p.Count != nil {
			*p.Count = m.counts[ci]
			ci++
			continue
		}
		s := slab[p.Name]
		if err := cu.MemcpyDtoH(unsafe.Pointer(&p.Data[0]), m.params+cu.DevicePtr(4*s.off), int64(4*s.n)); err != nil {
			return fmt.Errorf("PKG/cuda: downloading %s: %w", p.Name, err)
		}
	}
	dst.WeightsChanged()
	return nil
}

// Close frees the device memory and the context.
func (m *Model) Close() error {
	for _, p := range []cu.DevicePtr{m.params, m.folded, m.arena, m.input} {
		if p != 0 {
			cu.MemFree(p)
		}
	}
	m.params, m.folded, m.arena, m.input = 0, 0, 0, 0
	return m.ctx.Destroy()
}

// launch runs one kernel on the default stream with 256 threads a block;
// every argument is passed as the 8 bytes the kernels expect. The first
// error sticks and is returned by the public call.
func (m *Model) launch(fn cu.Function, gx, gy int, args ...uint64) {
	if m.err != nil {
		return
	}
	ps := make([]unsafe.Pointer, len(args))
	for i := range args {
		ps[i] = unsafe.Pointer(&args[i])
	}
	if err := fn.Launch(gx, gy, 1, 256, 1, 1, 0, cu.Stream{}, ps); err != nil {
		m.err = fmt.Errorf("PKG/cuda: launch: %w", err)
	}
}

func ptr(p cu.DevicePtr) uint64 { return uint64(p) }

func f64(v float64) uint64 { return math.Float64bits(v) }

func cdiv(n, per int) int { return (n + per - 1) / per }

// Compile returns the PTX of kernels.cu for compute capability major.minor,
// from the cache when it holds this source's, else from NVRTC, whose log is
// attached to any error.
func Compile(major, minor int) (string, error) {
	arch := fmt.Sprintf("compute_%d%d", major, minor)
	sum := sha256.Sum256([]byte(Source))
	var cache string
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "resnetc", "ptx", hex.EncodeToString(sum[:12])+"-"+arch+".ptx")
		if b, err := os.ReadFile(cache); err == nil {
			return string(b), nil
		}
	}
	prog, err := nvrtc.CreateProgram(Source, "kernels.cu")
	if err != nil {
		return "", fmt.Errorf("PKG/cuda: NVRTC: %w", err)
	}
	defer prog.Destroy()
	if err := prog.Compile("--gpu-architecture="+arch, "--std=c++17"); err != nil {
		log, _ := prog.GetLog()
		return "", fmt.Errorf("PKG/cuda: NVRTC cannot compile kernels.cu for %s: %w\n%s", arch, err, log)
	}
	ptx, err := prog.GetPTX()
	if err != nil {
		return "", fmt.Errorf("PKG/cuda: NVRTC: %w", err)
	}
	if cache != "" && os.MkdirAll(filepath.Dir(cache), 0o755) == nil {
		// A cache that cannot be written only costs a compile next time.
		if f, err := os.CreateTemp(filepath.Dir(cache), ".ptx*"); err == nil {
			_, werr := f.WriteString(ptx)
			if cerr := f.Close(); werr == nil && cerr == nil {
				os.Rename(f.Name(), cache)
			} else {
				os.Remove(f.Name())
			}
		}
	}
	return ptx, nil
}

// reserve grows the inference arena and input buffer to batch images.
func (m *Model) reserve(batch int) error {
	if batch <= m.cap {
		return nil
	}
	for _, p := range []cu.DevicePtr{m.arena, m.input} {
		if p != 0 {
			cu.MemFree(p)
		}
	}
	m.arena, m.input, m.cap = 0, 0, 0
	var err error
	if m.arena, err = cu.MemAlloc(int64(4 * inferFloats * batch)); err == nil {
		m.input, err = cu.MemAlloc(int64(4 * imageFloats * batch))
	}
	if err != nil {
		return fmt.Errorf("PKG/cuda: device memory for a batch of %d: %w", batch, err)
	}
	m.cap = batch
	return nil
}

// Forward runs inference on batch images (NCHW, float32) and returns the
// logits, valid until the next call.
func (m *Model) Forward(x []float32, batch int) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("PKG/cuda: batch %d: need at least one image", batch)
	}
	if len(x) != batch*imageFloats {
		return nil, fmt.Errorf("PKG/cuda: input has %d floats; a batch of %d needs %d", len(x), batch, batch*imageFloats)
	}
	defer m.enter()()
	if m.err != nil {
		return nil, m.err
	}
	if err := m.reserve(batch); err != nil {
		return nil, err
	}
	if err := cu.MemcpyHtoD(m.input, unsafe.Pointer(&x[0]), int64(4*len(x))); err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	if m.stale {
		m.refold()
	}
	out := m.forward(batch)
	if m.err != nil {
		return nil, m.err
	}
	if n := batch * cpu.Classes; cap(m.logits) < n {
		m.logits = make([]float32, n)
	}
	m.logits = m.logits[:batch*cpu.Classes]
	if err := cu.MemcpyDtoH(unsafe.Pointer(&m.logits[0]), out, int64(4*len(m.logits))); err != nil {
		return nil, fmt.Errorf("PKG/cuda: %w", err)
	}
	return m.logits, nil
}

// Trainer runs SGD steps on a Model's device weights.
type Trainer struct {
	m                    *Model
	opt                  cpu.SGD
	grads, momentum, bn  cu.DevicePtr
	backup               cu.DevicePtr // the BN running statistics before a step
	arena, input         cu.DevicePtr
	ws                   cu.DevicePtr // scratch for partial sums (workspaceFloats)
	labels, losses       cu.DevicePtr
	cap, steps           int
	labelHost            []int64
	lossHost             []float64
	logitHost            []float32
}

// NewTrainer returns a trainer that updates m with opt.
func NewTrainer(m *Model, opt cpu.SGD) (*Trainer, error) {
	defer m.enter()()
	t := &Trainer{m: m, opt: opt}
	var err error
	for _, a := range []struct {
		p *cu.DevicePtr
		n int
	}{{&t.grads, trainableFloats}, {&t.momentum, trainableFloats}, {&t.bn, bnFloats}, {&t.backup, paramFloats - trainableFloats + 1}} {
		if *a.p, err = cu.MemAlloc(int64(4 * a.n)); err != nil {
			return nil, fmt.Errorf("PKG/cuda: %w", err)
		}
	}
	return t, nil
}

func (t *Trainer) reserve(batch int) error {
	if batch <= t.cap {
		return nil
	}
	for _, p := range []cu.DevicePtr{t.arena, t.input, t.ws, t.labels, t.losses} {
		if p != 0 {
			cu.MemFree(p)
		}
	}
	t.arena, t.input, t.ws, t.labels, t.losses, t.cap = 0, 0, 0, 0, 0, 0
	var err error
	for _, a := range []struct {
		p *cu.DevicePtr
		n int
	}{{&t.arena, 4 * trainFloats * batch}, {&t.input, 4 * imageFloats * batch}, {&t.ws, 4 * workspaceFloats(batch)}, {&t.labels, 8 * batch}, {&t.losses, 8 * batch}} {
		if *a.p, err = cu.MemAlloc(int64(a.n)); err != nil {
			return fmt.Errorf("PKG/cuda: device memory for a batch of %d: %w", batch, err)
		}
	}
	t.cap = batch
	t.labelHost, t.lossHost = make([]int64, batch), make([]float64, batch)
	t.logitHost = make([]float32, 0, batch*cpu.Classes)
	return nil
}

// Step trains on one batch: the train-mode forward pass, softmax
// cross-entropy averaged over the batch, the backward pass and one SGD
// update, as the CPU package's Step. It returns the loss before the update;
// a NaN or infinite loss leaves the model unchanged and is an error.
func (t *Trainer) Step(x []float32, labels []int, batch int) (float32, error) {
	m := t.m
	if batch < 1 {
		return 0, fmt.Errorf("PKG/cuda: batch %d: need at least one image", batch)
	}
	if len(x) != batch*imageFloats {
		return 0, fmt.Errorf("PKG/cuda: input has %d floats; a batch of %d needs %d", len(x), batch, batch*imageFloats)
	}
	if len(labels) != batch {
		return 0, fmt.Errorf("PKG/cuda: %d labels for a batch of %d", len(labels), batch)
	}
	for i, l := range labels {
		if l < 0 || l >= cpu.Classes {
			return 0, fmt.Errorf("PKG/cuda: label %d of image %d is out of range 0..%d", l, i, cpu.Classes-1)
		}
	}
	defer m.enter()()
	if m.err != nil {
		return 0, m.err
	}
	if err := t.reserve(batch); err != nil {
		return 0, err
	}
	for i, l := range labels {
		t.labelHost[i] = int64(l)
	}
	if err := cu.MemcpyHtoD(t.input, unsafe.Pointer(&x[0]), int64(4*len(x))); err != nil {
		return 0, fmt.Errorf("PKG/cuda: %w", err)
	}
	if err := cu.MemcpyHtoD(t.labels, unsafe.Pointer(&t.labelHost[0]), int64(8*batch)); err != nil {
		return 0, fmt.Errorf("PKG/cuda: %w", err)
	}
	buffers := m.params + cu.DevicePtr(4*trainableFloats)
	if paramFloats > trainableFloats {
		if err := cu.MemcpyDtoD(t.backup, buffers, 4*(paramFloats-trainableFloats)); err != nil {
			return 0, fmt.Errorf("PKG/cuda: %w", err)
		}
	}
	t.forward(batch)
	logits, dlogits := t.logits(batch)
	m.launch(m.k.xent, cdiv(batch, 256), 1, ptr(logits), ptr(t.labels), ptr(dlogits), ptr(t.losses), uint64(batch))
	if m.err != nil {
		return 0, m.err
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&t.lossHost[0]), t.losses, int64(8*batch)); err != nil {
		return 0, fmt.Errorf("PKG/cuda: %w", err)
	}
	t.logitHost = t.logitHost[:batch*cpu.Classes]
	if err := cu.MemcpyDtoH(unsafe.Pointer(&t.logitHost[0]), logits, int64(4*len(t.logitHost))); err != nil {
		return 0, fmt.Errorf("PKG/cuda: %w", err)
	}
	var loss float64
	for _, l := range t.lossHost[:batch] {
		loss += l
	}
	loss /= float64(batch)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		if paramFloats > trainableFloats {
			cu.MemcpyDtoD(buffers, t.backup, 4*(paramFloats-trainableFloats))
		}
		return 0, fmt.Errorf("PKG/cuda: the loss is %v; the model was left unchanged", loss)
	}
	for i := range m.counts {
		m.counts[i]++
	}
	t.backward(batch)
	first := uint64(0)
	if t.steps == 0 {
		first = 1
	}
	lr, mom, wd := f64(float64(t.opt.LR)), f64(float64(t.opt.Momentum)), f64(float64(t.opt.WeightDecay))
	m.launch(m.k.sgd_step, cdiv(trainableFloats, 256), 1, ptr(m.params), ptr(t.grads), ptr(t.momentum), uint64(trainableFloats), lr, mom, wd, first)
	if m.err != nil {
		return 0, m.err
	}
	if err := cu.Synchronize(); err != nil {
		return 0, fmt.Errorf("PKG/cuda: %w", err)
	}
	t.steps++
	m.stale = true
	return float32(loss), nil
}


// Logits returns the train-mode logits of the last Step's batch, copied
// from the device, valid until the next Step.
func (t *Trainer) Logits() []float32 { return t.logitHost }

// SetLR sets the learning rate of the following steps, for schedules and
// warm-up.
func (t *Trainer) SetLR(lr float32) { t.opt.LR = lr }

// Steps returns the number of SGD updates made; the first one starts the
// momentum at the gradient, as the CPU package and PyTorch do.
func (t *Trainer) Steps() int { return t.steps }

// SetSteps restores the update count of a resumed run.
func (t *Trainer) SetSteps(n int) { t.steps = n }

// ReadMomentum copies SGD's momentum buffer from the device into dst, in
// the layout of the CPU package's Trainer.Momentum, so checkpoints of
// either can resume on the other.
func (t *Trainer) ReadMomentum(dst []float32) error {
	if len(dst) != trainableFloats {
		return fmt.Errorf("PKG/cuda: a momentum buffer of %d floats, want %d", len(dst), trainableFloats)
	}
	defer t.m.enter()()
	if t.m.err != nil {
		return t.m.err
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), t.momentum, int64(4*trainableFloats)); err != nil {
		return fmt.Errorf("PKG/cuda: downloading the momentum: %w", err)
	}
	return nil
}

// WriteMomentum replaces the device's momentum buffer with src.
func (t *Trainer) WriteMomentum(src []float32) error {
	if len(src) != trainableFloats {
		return fmt.Errorf("PKG/cuda: a momentum buffer of %d floats, want %d", len(src), trainableFloats)
	}
	defer t.m.enter()()
	if t.m.err != nil {
		return t.m.err
	}
	if err := cu.MemcpyHtoD(t.momentum, unsafe.Pointer(&src[0]), int64(4*trainableFloats)); err != nil {
		return fmt.Errorf("PKG/cuda: uploading the momentum: %w", err)
	}
	return nil
}
`
