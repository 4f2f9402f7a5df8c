// Reading redline JSONL register histories (DESIGN.md section 3) into Porcupine operations,
// with the same semantics redline's linearizable checker gives them:
//   - ok reads, writes and cas ops: closed intervals [invoke time, completion time];
//   - a cas that failed with "error":"mismatch": the register did not hold its old value;
//   - info writes and cas ops, and invocations with no completion: they may take effect at any
//     point after their invocation, or never. Porcupine has no such op, so they return at the
//     end of time: linearized last, a write or cas has no effect on anything;
//   - other fail ops, info reads and final reads ("final": true) constrain nothing: left out.
//
// Values are interned to integers (JSON null, the absent key, is 0), and ops are partitioned
// by key, which Porcupine checks independently, as redline does.
package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"

	"github.com/anishathalye/porcupine"
)

type regInput struct {
	key  string
	op   uint8 // 0 read, 1 write, 2 cas
	a, b int   // write value / cas from, cas to
}

type regOutput struct {
	value    int  // what a read returned
	mismatch bool // a cas that failed with a mismatch
	unknown  bool // info: may or may not have taken effect
}

// registerModel is a register with cas, partitioned by key; states are interned values.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).key
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		parts := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() interface{} { return 0 },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int)
		in := input.(regInput)
		out := output.(regOutput)
		switch {
		case in.op == 0:
			return out.value == st, st
		case in.op == 1:
			return true, in.a
		case out.mismatch:
			return in.a != st, st
		case out.unknown:
			// An info cas takes effect if it matches, else it is as if it never happened.
			if in.a == st {
				return true, in.b
			}
			return true, st
		default:
			return in.a == st, in.b
		}
	},
	Equal: func(a, b interface{}) bool { return a.(int) == b.(int) },
	Hash:  func(state interface{}) uint64 { return uint64(state.(int)) * 0x9E3779B97F4A7C15 },
}

type record struct {
	Time    int64           `json:"time"`
	Process json.RawMessage `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     *string         `json:"key"`
	Value   json.RawMessage `json:"value"`
	Error   *string         `json:"error"`
	Final   bool            `json:"final"`
}

type interner map[string]int

func (in interner) id(raw json.RawMessage) int {
	text := string(raw)
	if text == "" || text == "null" {
		return 0
	}
	if id, ok := in[text]; ok {
		return id
	}
	id := len(in) + 1
	in[text] = id
	return id
}

func parseJSONL(path string) ([]porcupine.Operation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	values := interner{}
	pending := map[string]record{} // process -> its invocation
	var ops []porcupine.Operation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		if r.F != "read" && r.F != "write" && r.F != "cas" || r.Final {
			continue
		}
		proc := string(r.Process)
		if r.Type == "invoke" {
			pending[proc] = r
			continue
		}
		inv, ok := pending[proc]
		if !ok {
			continue
		}
		delete(pending, proc)
		if op, keep := operation(inv, &r, values); keep {
			ops = append(ops, op)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, inv := range pending {
		if op, keep := operation(inv, nil, values); keep {
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// operation turns an invocation and its completion (nil: none) into an operation.
func operation(inv record, done *record, values interner) (porcupine.Operation, bool) {
	info := done == nil || done.Type == "info"
	key := ""
	if inv.Key != nil {
		key = *inv.Key
	}
	in := regInput{key: key}
	out := regOutput{unknown: info}
	switch inv.F {
	case "read":
		if info || done.Type != "ok" {
			return porcupine.Operation{}, false
		}
		out.value = values.id(done.Value)
	case "write":
		if !info && done.Type != "ok" {
			return porcupine.Operation{}, false
		}
		in.op, in.a = 1, values.id(inv.Value)
	default:
		var pair []json.RawMessage
		if json.Unmarshal(inv.Value, &pair) != nil || len(pair) != 2 {
			return porcupine.Operation{}, false
		}
		in.op, in.a, in.b = 2, values.id(pair[0]), values.id(pair[1])
		if !info && done.Type == "fail" {
			if done.Error == nil || *done.Error != "mismatch" {
				return porcupine.Operation{}, false
			}
			out.mismatch = true
		}
	}
	ret := int64(math.MaxInt64)
	if !info {
		ret = done.Time
	}
	return porcupine.Operation{Input: in, Call: inv.Time, Output: out, Return: ret}, true
}
