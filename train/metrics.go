package train

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strconv"

	"github.com/resnetc/resnetc/internal/atomicfile"
)

var header = []string{"iteration", "epoch", "lr", "train_loss", "train_error", "val_error", "test_error", "images_per_s", "seconds"}

// WriteMetrics writes rows to a CSV file, atomically.
func WriteMetrics(path string, rows []Row) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range rows {
		w.Write([]string{strconv.Itoa(r.Iteration), f(r.Epoch), f(r.LR), f(r.TrainLoss), f(r.TrainError),
			f(r.ValError), f(r.TestError), f(r.ImagesPerS), f(r.Seconds)})
	}
	w.Flush()
	return atomicfile.Write(path, buf.Bytes())
}

// ReadMetrics reads a metrics.csv that WriteMetrics wrote.
func ReadMetrics(path string) ([]Row, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(recs) == 0 || len(recs[0]) != len(header) || recs[0][0] != header[0] {
		return nil, fmt.Errorf("%s: line 1: not a resnetc metrics file (want the header %v)", path, header)
	}
	var rows []Row
	for i, rec := range recs[1:] {
		var v [9]float64
		for j := range rec {
			if v[j], err = strconv.ParseFloat(rec[j], 64); err != nil {
				return nil, fmt.Errorf("%s: line %d, column %s: %v", path, i+2, header[j], err)
			}
		}
		rows = append(rows, Row{Iteration: int(v[0]), Epoch: v[1], LR: v[2], TrainLoss: v[3], TrainError: v[4],
			ValError: v[5], TestError: v[6], ImagesPerS: v[7], Seconds: v[8]})
	}
	return rows, nil
}
