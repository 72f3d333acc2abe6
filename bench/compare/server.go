package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// server is a reference implementation running as a child process that
// answers one JSON request per line (scripts/bench_torch.py,
// bench/ort/server.js). It stays up for the whole run so that its start-up
// and warm-up are never timed.
type server struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
}

func startServer(name, dir, prog, script string) (*server, error) {
	cmd := exec.Command(prog, script)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s %s): %w", name, prog, script, err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	return &server{name: name, cmd: cmd, in: in, out: sc}, nil
}

// call sends req and decodes the reply into reply; a reply carrying an
// "error" field becomes a Go error naming the server.
func (s *server) call(req map[string]any, reply any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := s.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if !s.out.Scan() {
		if err := s.out.Err(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return fmt.Errorf("%s exited before answering %s", s.name, req["op"])
	}
	var e struct{ Error string }
	if err := json.Unmarshal(s.out.Bytes(), &e); err == nil && e.Error != "" {
		return fmt.Errorf("%s: %s", s.name, e.Error)
	}
	return json.Unmarshal(s.out.Bytes(), reply)
}

func (s *server) close() {
	s.in.Close()
	s.cmd.Wait()
}
