package weights

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"path"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// loadZip unpickles a zip-format checkpoint (PyTorch 1.6 and later). It
// resolves the storage classes itself rather than through gopickle's
// pytorch.Load, because gopickle v0.2.0 widens float16 subnormals wrongly
// (its table maps them like exponent-1 values); halfStorage keeps the raw
// bits and convert widens them with nn's exact conversion.
func loadZip(filename string) (any, error) {
	r, err := zip.OpenReader(filename)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	records := make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		_, name := path.Split(f.Name)
		records[name] = f
	}
	if _, ok := records["constants.pkl"]; ok {
		return nil, fmt.Errorf("a TorchScript archive, not a state_dict checkpoint")
	}
	data, ok := records["data.pkl"]
	if !ok {
		return nil, fmt.Errorf("no data.pkl in the archive")
	}
	df, err := data.Open()
	if err != nil {
		return nil, err
	}
	defer df.Close()

	storages := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(df)
	u.FindClass = findClass
	u.PersistentLoad = func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 5 {
			return nil, fmt.Errorf("unexpected persistent id %v", id)
		}
		if kind, _ := t.Get(0).(string); kind != "storage" {
			return nil, fmt.Errorf("unexpected persistent id kind %v", t.Get(0))
		}
		class, ok1 := t.Get(1).(pytorch.StorageClassInterface)
		key, ok2 := t.Get(2).(string)
		location, ok3 := t.Get(3).(string)
		size, ok4 := t.Get(4).(int)
		if !ok1 || !ok2 || !ok3 || !ok4 || size < 0 {
			return nil, fmt.Errorf("unexpected storage description %v", id)
		}
		if s, done := storages[key]; done {
			return s, nil
		}
		rec, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %s is missing from the archive", key)
		}
		if want := int64(size) * storageWidth(class); want != int64(rec.UncompressedSize64) {
			return nil, fmt.Errorf("storage %s holds %d bytes, its tensor needs %d (truncated?)", key, rec.UncompressedSize64, want)
		}
		f, err := rec.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		s := class.New(size, location)
		if err := s.SetFromFileWithSize(f, size); err != nil {
			return nil, fmt.Errorf("storage %s: %v", key, err)
		}
		storages[key] = s
		return s, nil
	}
	return u.Load()
}

// findClass resolves the classes a state_dict pickle names.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return &pytorch.RebuildTensorV2{}, nil
	case "torch.FloatStorage":
		return &pytorch.FloatStorageClass{}, nil
	case "torch.HalfStorage":
		return &halfStorageClass{}, nil
	case "torch.DoubleStorage":
		return &pytorch.DoubleStorageClass{}, nil
	case "torch.LongStorage":
		return &pytorch.LongStorageClass{}, nil
	case "torch.IntStorage":
		return &pytorch.IntStorageClass{}, nil
	case "collections.OrderedDict":
		return &types.OrderedDictClass{}, nil
	}
	return nil, fmt.Errorf("unsupported class %s.%s in the checkpoint", module, name)
}

// storageWidth is the bytes per element of a storage class.
func storageWidth(c pytorch.StorageClassInterface) int64 {
	switch c.(type) {
	case *halfStorageClass:
		return 2
	case *pytorch.DoubleStorageClass, *pytorch.LongStorageClass:
		return 8
	}
	return 4
}

type halfStorageClass struct{}

func (*halfStorageClass) New(size int, location string) pytorch.StorageInterface {
	return &halfStorage{}
}

// halfStorage keeps float16 storage as raw bits.
type halfStorage struct{ bits []uint16 }

func (h *halfStorage) SetFromFile(r io.Reader) error {
	return fmt.Errorf("float16 storage without a size")
}

func (h *halfStorage) SetFromFileWithSize(r io.Reader, size int) error {
	h.bits = make([]uint16, size)
	return binary.Read(r, binary.LittleEndian, h.bits)
}
