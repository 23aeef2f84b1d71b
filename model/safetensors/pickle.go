package safetensors

import "errors"

// ErrPickle is wrapped, beside ErrInvalid, by the error for a file that is a
// PyTorch pickle (the .pt, .ckpt and .bin files torch.save writes) rather
// than safetensors. Kata never unpickles: loading a pickle can run any code
// its author put in it, which is why the safetensors format exists.
var ErrPickle = errors.New("this is a PyTorch pickle file (.pt/.ckpt/.bin), not safetensors; Kata does not open pickles because loading one can run code")

// looksLikePickle reports whether data starts like a file torch.save wrote:
// a zip archive (PyTorch 1.6 and later: "PK\x03\x04" then archive/data.pkl)
// or a bare pickle stream (older files: the PROTO opcode 0x80 and a protocol
// number 2 to 5).
func looksLikePickle(data []byte) bool {
	if len(data) >= 4 && string(data[:4]) == "PK\x03\x04" {
		return true
	}
	return len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5
}
