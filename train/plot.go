package train

import (
	"bytes"
	"fmt"
	"image/color"

	"github.com/resnetc/resnetc/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Curve is one run's metrics under a legend name.
type Curve struct {
	Name string
	Rows []Row
}

var palette = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// PlotCurves draws the paper's Fig. 6 style to a PNG at path: error (%)
// against iterations, training error dashed and test error solid, one
// colour per run.
func PlotCurves(path, title string, curves []Curve) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "iteration"
	p.Y.Label.Text = "error (%)"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	for i, c := range curves {
		col := palette[i%len(palette)]
		train, test := make(plotter.XYs, 0, len(c.Rows)), make(plotter.XYs, 0, len(c.Rows))
		for _, r := range c.Rows {
			train = append(train, plotter.XY{X: float64(r.Iteration), Y: 100 * r.TrainError})
			test = append(test, plotter.XY{X: float64(r.Iteration), Y: 100 * r.TestError})
		}
		if len(train) == 0 {
			return fmt.Errorf("plot %s: run %s has no metrics", path, c.Name)
		}
		lt, err := plotter.NewLine(train)
		if err != nil {
			return err
		}
		lt.Color, lt.Width, lt.Dashes = col, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		ls, err := plotter.NewLine(test)
		if err != nil {
			return err
		}
		ls.Color, ls.Width = col, vg.Points(2)
		p.Add(lt, ls)
		p.Legend.Add(c.Name+" train", lt)
		p.Legend.Add(c.Name+" test", ls)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}
