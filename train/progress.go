package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress receives a run's events.
type Progress interface {
	Start(name string, done, total int)
	Step(done int, loss, trainError, imagesPerS float64)
	Eval(r Row)
	Done()
}

// NewProgress returns a progress bar on w when it is a terminal and plain
// log lines (one per evaluation) otherwise.
func NewProgress(w io.Writer) Progress {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return &barProgress{w: w}
		}
	}
	return &lineProgress{w: w}
}

// Quiet is a Progress that reports nothing.
type Quiet struct{}

func (Quiet) Start(string, int, int)              {}
func (Quiet) Step(int, float64, float64, float64) {}
func (Quiet) Eval(Row)                            {}
func (Quiet) Done()                               {}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Start(name string, done, total int) {
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30))
	p.bar.Set(done)
}

func (p *barProgress) Step(done int, loss, trainError, imagesPerS float64) {
	p.bar.Describe(fmt.Sprintf("loss %.3f  train acc %5.1f%%  %4.0f img/s", loss, 100*(1-trainError), imagesPerS))
	p.bar.Set(done)
}

func (p *barProgress) Eval(r Row) {
	p.bar.Clear()
	fmt.Fprintln(p.w, line(r))
}

func (p *barProgress) Done() {
	p.bar.Finish()
	fmt.Fprintln(p.w)
}

type lineProgress struct {
	w     io.Writer
	name  string
	total int
	start time.Time
	from  int
}

func (p *lineProgress) Start(name string, done, total int) {
	p.name, p.total, p.start, p.from = name, total, time.Now(), done
	fmt.Fprintf(p.w, "%s: iterations %d to %d\n", name, done, total)
}

func (p *lineProgress) Step(int, float64, float64, float64) {}

func (p *lineProgress) Eval(r Row) {
	eta := ""
	if n := r.Iteration - p.from; n > 0 {
		left := time.Duration(float64(time.Since(p.start)) / float64(n) * float64(p.total-r.Iteration))
		eta = "  eta " + left.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s: %s%s\n", p.name, line(r), eta)
}

func (p *lineProgress) Done() {}

func line(r Row) string {
	s := fmt.Sprintf("iter %d (epoch %.2f, lr %g): loss %.4f, train error %.2f%%", r.Iteration, r.Epoch, r.LR, r.TrainLoss, 100*r.TrainError)
	if r.ValError >= 0 {
		s += fmt.Sprintf(", val error %.2f%%", 100*r.ValError)
	}
	return s + fmt.Sprintf(", test error %.2f%%, %.0f img/s", 100*r.TestError, r.ImagesPerS)
}
