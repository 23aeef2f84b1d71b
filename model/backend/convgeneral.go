package backend

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"kata/model/backend/gemm"
	"kata/model/parallel"
)

// convMirror has the layout of simplego's convNode (v0.26.0).
type convMirror struct {
	axes              backends.ConvolveAxesConfig
	strides           []int
	paddings          [][2]int
	inputDilations    []int
	kernelDilations   []int
	channelGroupCount int
	batchGroupCount   int

	hasInputDilations, hasKernelDilations            bool
	inputStrides, inputSpatialStrides, kernelStrides []int
	dilatedInputSpatialDims                          []int
}

// execConvGeneral runs float32 convolutions without channel/batch grouping as
// GEMMs over an im2col matrix; anything else goes to GoMLX's executor. A
// float16/bfloat16 kernel (read directly, see half.go) goes to the GEMM as
// stored when its layout is a matrix view (PyTorch's [out, in, h, w] is),
// and is widened with the transposition otherwise; a half-precision input is
// widened before the im2col.
func execConvGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	if !kernelsOn.Load() {
		return stockWithHalf(stockConvGeneral, backend, node, inputs, owned)
	}
	n := mirror(node)
	p := nodeData[convMirror](n)
	inShape, in, release1, ok1 := operandF32(backend, inputs[0])
	defer release1()
	kShape, ker, ok2 := operandOf(backend, inputs[1])
	if p == nil || !ok1 || !ok2 || n.shape.DType != dtypes.Float32 ||
		max(p.channelGroupCount, 1) != 1 || max(p.batchGroupCount, 1) != 1 {
		fallbacks.Add(1)
		return stockWithHalf(stockConvGeneral, backend, node, inputs, owned)
	}
	plan, err := newConvPlan(p, in, inShape.Dimensions, ker, kShape.Dimensions, n.shape.Dimensions)
	if err == nil && plan.batch > plan.m && plan.batch*plan.kSize > maxIm2col {
		// Batch-rows mode would need one huge im2col matrix per output position.
		plan.release()
		err = fmt.Errorf("im2col of %dx%d too large", plan.batch, plan.kSize)
	}
	if err != nil {
		fallbacks.Add(1)
		return stockWithHalf(stockConvGeneral, backend, node, inputs, owned)
	}
	out, outFlat, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	plan.out = outFlat
	if err := plan.run(); err != nil {
		backend.BufferFinalize(out)
		return nil, fmt.Errorf("ConvGeneral %s * %s: %w", inShape, kShape, err)
	}
	fastCalls.Add(1)
	return out, nil
}

// convPlan is one convolution as out[b, o, oc] = sum_k X[b, o][k] * W[k][oc], where
// k runs over the kernel's (input channel, spatial) axes in kernel memory order.
type convPlan struct {
	axes                  backends.ConvolveAxesConfig
	spatial               int
	in, out               []float32
	inDims, inStr, oStr   []int
	oDims                 []int
	stride, padLo, inDil  []int
	batch, cout, m, kSize int
	outSpDims, inSpDims   []int
	icOff                 []int // per k: input-channel offset into in
	kd                    []int // per k and spatial axis: kernel position times kernel dilation
	w                     gemm.Matrix
	oSpStride             int       // stride of the flattened output spatial index, if mergeable
	oSpMerged             bool      // whether the output spatial axes merge into one stride
	icInner               bool      // k's innermost axis is the input channel, contiguous in the input
	kxRun                 int       // size of k's innermost axis when it is the last kernel spatial axis, else 0
	kxDil                 int       // kernel dilation along the last spatial axis
	kSpatial              int       // number of kernel spatial positions
	scratchW              []float32 // pooled copy of the kernel, released by run
}

func newConvPlan(p *convMirror, in []float32, inDims []int, ker operand, kDims, oDims []int) (*convPlan, error) {
	ax := p.axes
	s := len(ax.InputSpatial)
	if len(inDims) != s+2 || len(kDims) != s+2 || len(oDims) != s+2 {
		return nil, fmt.Errorf("rank mismatch")
	}
	get := func(v []int, i, def int) int {
		if i < len(v) && v[i] > 0 {
			return v[i]
		}
		return def
	}
	c := &convPlan{axes: ax, spatial: s, in: in, inDims: inDims, inStr: rowMajorStrides(inDims),
		oDims: oDims, oStr: rowMajorStrides(oDims),
		batch: inDims[ax.InputBatch], cout: kDims[ax.KernelOutputChannels], m: 1}
	if oDims[ax.OutputBatch] != c.batch || oDims[ax.OutputChannels] != c.cout || kDims[ax.KernelInputChannels] != inDims[ax.InputChannels] {
		return nil, fmt.Errorf("channel/batch mismatch")
	}
	kDil := make([]int, s)
	for d := range s {
		c.stride = append(c.stride, get(p.strides, d, 1))
		c.inDil = append(c.inDil, get(p.inputDilations, d, 1))
		kDil[d] = get(p.kernelDilations, d, 1)
		lo := 0
		if d < len(p.paddings) {
			lo = p.paddings[d][0]
		}
		c.padLo = append(c.padLo, lo)
		c.outSpDims = append(c.outSpDims, oDims[ax.OutputSpatial[d]])
		c.inSpDims = append(c.inSpDims, inDims[ax.InputSpatial[d]])
		c.m *= oDims[ax.OutputSpatial[d]]
	}

	// k enumerates the kernel axes other than the output channels, in memory order.
	kStr := rowMajorStrides(kDims)
	var kAxes []int
	for a := range kDims {
		if a != ax.KernelOutputChannels {
			kAxes = append(kAxes, a)
		}
	}
	c.kSize, c.kSpatial = 1, 1
	for _, a := range kAxes {
		c.kSize *= kDims[a]
	}
	for _, a := range ax.KernelSpatial {
		c.kSpatial *= kDims[a]
	}
	if c.m == 0 || c.batch == 0 || c.cout == 0 || c.kSize == 0 {
		return nil, fmt.Errorf("empty convolution")
	}
	c.icOff = make([]int, c.kSize)
	c.kd = make([]int, c.kSize*s)
	idx := make([]int, len(kDims))
	for k := range c.kSize {
		c.icOff[k] = idx[ax.KernelInputChannels] * c.inStr[ax.InputChannels]
		for d := range s {
			c.kd[k*s+d] = idx[ax.KernelSpatial[d]] * kDil[d]
		}
		for i := len(kAxes) - 1; i >= 0; i-- {
			a := kAxes[i]
			idx[a]++
			if idx[a] < kDims[a] {
				break
			}
			idx[a] = 0
		}
	}
	c.icInner = kAxes[len(kAxes)-1] == ax.KernelInputChannels && c.inStr[ax.InputChannels] == 1
	if s == 2 && kAxes[len(kAxes)-1] == ax.KernelSpatial[1] {
		c.kxRun, c.kxDil = kDims[ax.KernelSpatial[1]], kDil[1]
	}

	if rs, ok := mergeAxes(kDims, kStr, kAxes); ok {
		c.w = ker.matrix(0, rs, kStr[ax.KernelOutputChannels])
	} else {
		// Pooled: a fresh multi-megabyte slice per call costs more in page faults
		// than the copy itself.
		w := getScratch(c.kSize * c.cout)
		c.scratchW = w
		wide, release := ker.widened()
		transposeInto(w, wide, kDims, append(slices.Clone(kAxes), ax.KernelOutputChannels))
		release()
		c.w = gemm.RowMajor(w, 0, c.cout)
	}
	c.oSpStride, c.oSpMerged = mergeAxes(oDims, c.oStr, ax.OutputSpatial)
	return c, nil
}

// EnvSmallConv is the environment variable that, set to "off", turns off the
// convolution paths added for small shapes (grouped batch elements, row-major
// kernel-gradient fills split over the cores, dilated input-gradient fills),
// so that a whole training step can be timed with the earlier paths (A/B runs
// of one binary). Results are the same either way.
const EnvSmallConv = "KATA_SMALL_CONV"

// smallConvOff holds EnvSmallConv=off; BenchmarkWorldConv flips it to time
// both sets of paths in one process.
var smallConvOff atomic.Bool

func init() { smallConvOff.Store(os.Getenv(EnvSmallConv) == "off") }

// maxIm2col caps the im2col matrix of one task (floats).
const maxIm2col = 1 << 24

// halfKernelRows is the fewest output positions of a task of a convolution
// with a half-precision kernel (runSpatialRows). Each task widens the whole
// kernel while packing it, one value per 2 x rows FLOPs of its products: at
// the 192 rows of a float32 kernel's smallest task, the widening was 23% of a
// 256 px SD 1.5 step's CPU profile.
const halfKernelRows = 1024

// release returns the plan's pooled kernel copy.
func (c *convPlan) release() {
	if c.scratchW != nil {
		putScratch(c.scratchW)
		c.scratchW = nil
	}
}

func (c *convPlan) run() error {
	defer c.release()
	if g := c.batchGroup(runtime.GOMAXPROCS(0)); g > 0 {
		return c.runGroupedRows(g)
	}
	if c.batch > c.m {
		return c.runBatchRows()
	}
	return c.runSpatialRows()
}

// groupRows is the number of im2col rows a task of grouped batch elements aims at.
const groupRows = 64

// batchGroup returns how many batch elements share one im2col matrix and GEMM
// (runGroupedRows), or 0 to run one per batch element or output position.
// Grouping is for small maps (fewer than groupRows output positions) under
// small kernels (at most 9 positions: forward passes and input gradients of
// 3x3 and 1x1 convolutions, and kernel gradients on maps of up to 9
// positions; other kernel gradients, whose "kernel" is a feature map, keep
// their modes): a task per batch element would repack the whole kernel for a
// handful of rows.
// Groups are made of about groupRows rows, and at least as many groups as
// workers when each still gets groupRows/2 rows.
func (c *convPlan) batchGroup(workers int) int {
	if c.m >= groupRows || c.kSpatial > 9 || c.batch == 1 || !c.oSpMerged || smallConvOff.Load() {
		return 0
	}
	g := min(c.batch, (groupRows+c.m-1)/c.m)
	if perWorker := (c.batch + workers - 1) / workers; perWorker*c.m >= groupRows/2 {
		g = min(g, perWorker)
	}
	if g*c.kSize*c.m > maxIm2col {
		return 0
	}
	return g
}

// runGroupedRows: rows are the output positions of g batch elements at a time;
// the product goes to a scratch [cout][rows] block, copied out per batch
// element and channel.
func (c *convPlan) runGroupedRows(g int) error {
	groups := (c.batch + g - 1) / g
	bStr, ocStr := c.oStr[c.axes.OutputBatch], c.oStr[c.axes.OutputChannels]
	task := func(t int, mul func(m, n, k int, a, b, cm gemm.Matrix) error) error {
		b0 := t * g
		gb := min(g, c.batch-b0)
		rows := gb * c.m
		x := getScratch(rows * c.kSize)
		defer putScratch(x)
		var a gemm.Matrix
		for i := range gb {
			if c.icInner {
				c.fillRowMajor(x[i*c.m*c.kSize:], b0+i, 0, c.m)
			} else {
				c.fillColMajor(x[i*c.m:], rows, b0+i, 0, c.m)
			}
		}
		if c.icInner {
			a = gemm.RowMajor(x, 0, c.kSize)
		} else {
			a = gemm.Matrix{Data: x, RowStride: 1, ColStride: rows}
		}
		tmp := getScratch(rows * c.cout)
		defer putScratch(tmp)
		if err := mul(rows, c.cout, c.kSize, a, c.w, gemm.Matrix{Data: tmp, RowStride: 1, ColStride: rows}); err != nil {
			return err
		}
		for i := range gb {
			for oc := range c.cout {
				src := tmp[oc*rows+i*c.m : oc*rows+(i+1)*c.m]
				off := (b0+i)*bStr + oc*ocStr
				if c.oSpStride == 1 {
					copy(c.out[off:off+c.m], src)
					continue
				}
				for r, v := range src {
					c.out[off+r*c.oSpStride] = v
				}
			}
		}
		return nil
	}
	if groups >= runtime.GOMAXPROCS(0) {
		return parallel.For(groups, func(t int) error { return task(t, gemm.MultiplySerial) })
	}
	for t := range groups {
		if err := task(t, gemm.Multiply); err != nil {
			return err
		}
	}
	return nil
}

// runSpatialRows: per batch element, rows are output positions (split into chunks).
func (c *convPlan) runSpatialRows() error {
	rowsPerTask := min(c.m, max(192, (1<<18)/c.kSize))
	if c.w.Format != gemm.Float32 {
		// Every task packs (widens) the whole kernel: give each at least
		// halfKernelRows output positions to share it.
		rowsPerTask = min(c.m, max(rowsPerTask, halfKernelRows))
	}
	if rowsPerTask*c.kSize > maxIm2col {
		rowsPerTask = max(1, maxIm2col/c.kSize)
	}
	chunks := (c.m + rowsPerTask - 1) / rowsPerTask
	tasks := c.batch * chunks
	task := func(t int, mul func(m, n, k int, a, b, cm gemm.Matrix) error) error {
		b, r0 := t/chunks, (t%chunks)*rowsPerTask
		rows := min(rowsPerTask, c.m-r0)
		x := getScratch(rows * c.kSize)
		defer putScratch(x)
		var a gemm.Matrix
		if c.icInner {
			c.fillRowMajor(x, b, r0, rows)
			a = gemm.RowMajor(x, 0, c.kSize)
		} else {
			c.fillColMajor(x, rows, b, r0, rows)
			a = gemm.Matrix{Data: x, RowStride: 1, ColStride: rows}
		}
		base := b * c.oStr[c.axes.OutputBatch]
		return c.multiplyInto(mul, rows, a, base, r0)
	}
	return c.schedule(tasks, task)
}

// runBatchRows: per output position, rows are the batch (GoMLX's kernel gradient
// puts the input channels there and contracts over the original batch and space).
// When k's innermost axis is the last spatial axis and at least minRun long
// (NCHW kernel gradients of maps 16 and more wide) the rows are filled
// row-major from runs of the input (fillBatchRowsRuns), and each position's
// rows are split in two when that evens out the cores' load; otherwise x[k][b]
// is gathered element by element (on 8-wide and smaller maps the runs are too
// short to pay: BenchmarkWorldConv measured the gather 4-30% cheaper there).
func (c *convPlan) runBatchRows() error {
	if c.kxRun < minRun || c.inDil[1] > 1 || smallConvOff.Load() {
		task := func(o int, mul func(m, n, k int, a, b, cm gemm.Matrix) error) error {
			x := getScratch(c.batch * c.kSize)
			defer putScratch(x)
			c.fillBatchRows(x, o)
			a := gemm.Matrix{Data: x, RowStride: 1, ColStride: c.batch}
			return c.multiplyInto(mul, c.batch, a, 0, o)
		}
		return c.schedule(c.m, task)
	}
	parts := batchRowParts(c.m, c.batch, runtime.GOMAXPROCS(0))
	per := (c.batch + parts - 1) / parts
	task := func(t int, mul func(m, n, k int, a, b, cm gemm.Matrix) error) error {
		o, b0 := t/parts, (t%parts)*per
		rows := min(per, c.batch-b0)
		if rows <= 0 {
			return nil
		}
		x := getScratch(rows * c.kSize)
		defer putScratch(x)
		c.fillBatchRowsRuns(x, o, b0, rows)
		return c.multiplyIntoRows(mul, rows, gemm.RowMajor(x, 0, c.kSize), o, b0)
	}
	return c.schedule(c.m*parts, task)
}

// minRun is the shortest run along the last spatial axis that runBatchRows
// copies as a run.
const minRun = 16

// batchRowParts is how many row blocks each of m output positions is split
// into: 2 when m tasks would leave a core idle for part of the last round
// (m = 9 kernel positions on 2 cores) and the blocks keep at least 16 rows.
func batchRowParts(m, rows, workers int) int {
	if workers > 1 && m%workers != 0 && m >= 2*workers && m < 8*workers && rows >= 32 {
		return 2
	}
	return 1
}

// fillBatchRowsRuns builds x[r][k] (row-major, rows b0..b0+rows of the batch) for
// output position o, copying each run of k along the last kernel spatial axis
// from the input in one strided pass, framed by zeros where it meets padding.
func (c *convPlan) fillBatchRowsRuns(x []float32, o, b0, rows int) {
	pos := make([]int, 2)
	c.outPos(o, pos)
	bStr := c.inStr[c.axes.InputBatch]
	sy, sx := c.stride[0], c.stride[1]
	dy := c.inDil[0]
	strY, strX := c.inStr[c.axes.InputSpatial[0]], c.inStr[c.axes.InputSpatial[1]]
	h, w := c.inSpDims[0], c.inSpDims[1]
	padY, padX := c.padLo[0], c.padLo[1]
	kw, step := c.kxRun, c.kxDil*strX
	// Positions j of a run whose input column ox*sx + j*kxDil - padX lies in [0, w).
	x0 := pos[1]*sx - padX
	jLo := min(max(0, ceilDiv(-x0, c.kxDil)), kw)
	jHi := max(min(kw, floorDiv(w-1-x0, c.kxDil)+1), jLo)
	for r := range rows {
		row := x[r*c.kSize : (r+1)*c.kSize]
		bOff := (b0 + r) * bStr
		for k0 := 0; k0 < c.kSize; k0 += kw {
			seg := row[k0 : k0+kw]
			py := pos[0]*sy + c.kd[2*k0] - padY
			if jHi == jLo || py < 0 || py%dy != 0 || py/dy >= h {
				clear(seg)
				continue
			}
			clear(seg[:jLo])
			clear(seg[jHi:])
			src := bOff + c.icOff[k0] + (py/dy)*strY + (x0+jLo*c.kxDil)*strX
			mid := seg[jLo:jHi]
			if step == 1 {
				copy(mid, c.in[src:src+len(mid)])
				continue
			}
			for j := range mid {
				mid[j] = c.in[src+j*step]
			}
		}
	}
}

// multiplyIntoRows computes rows b0..b0+rows (batch-rows mode) of output
// position o: rows x cout = A · W.
func (c *convPlan) multiplyIntoRows(mul func(m, n, k int, a, b, cm gemm.Matrix) error, rows int, a gemm.Matrix, o, b0 int) error {
	bStr, ocStr := c.oStr[c.axes.OutputBatch], c.oStr[c.axes.OutputChannels]
	dst := gemm.Matrix{Data: c.out, Offset: c.spatialOffset(o) + b0*bStr, RowStride: bStr, ColStride: ocStr}
	return mul(rows, c.cout, c.kSize, a, c.w, dst)
}

// schedule spreads tasks over the cores (each GEMM serial) when there are enough of
// them, otherwise runs them in turn with parallel GEMMs.
func (c *convPlan) schedule(tasks int, task func(int, func(m, n, k int, a, b, cm gemm.Matrix) error) error) error {
	if tasks >= 4*runtime.GOMAXPROCS(0) {
		return parallel.For(tasks, func(t int) error { return task(t, gemm.MultiplySerial) })
	}
	for t := range tasks {
		if err := task(t, gemm.Multiply); err != nil {
			return err
		}
	}
	return nil
}

// multiplyInto computes rows x cout = A · W into the output. In spatial-rows mode
// (first=r0) rows are output positions r0.. of batch element at base; in batch-rows
// mode rows are batch elements at output position first.
func (c *convPlan) multiplyInto(mul func(m, n, k int, a, b, cm gemm.Matrix) error, rows int, a gemm.Matrix, base, first int) error {
	ocStr := c.oStr[c.axes.OutputChannels]
	var dst gemm.Matrix
	batchRows := c.batch > c.m
	if batchRows {
		dst = gemm.Matrix{Data: c.out, Offset: c.spatialOffset(first), RowStride: c.oStr[c.axes.OutputBatch], ColStride: ocStr}
	} else if c.oSpMerged {
		dst = gemm.Matrix{Data: c.out, Offset: base + first*c.oSpStride, RowStride: c.oSpStride, ColStride: ocStr}
	}
	if dst.Data != nil {
		return mul(rows, c.cout, c.kSize, a, c.w, dst)
	}
	// The output positions cannot be addressed with one stride: compute, then scatter.
	tmp := getScratch(rows * c.cout)
	defer putScratch(tmp)
	if err := mul(rows, c.cout, c.kSize, a, c.w, gemm.RowMajor(tmp, 0, c.cout)); err != nil {
		return err
	}
	for r := range rows {
		var off int
		if batchRows {
			off = c.spatialOffset(first) + r*c.oStr[c.axes.OutputBatch]
		} else {
			off = base + c.spatialOffset(first+r)
		}
		for oc := range c.cout {
			c.out[off+oc*ocStr] = tmp[r*c.cout+oc]
		}
	}
	return nil
}

// spatialOffset is the output offset of flattened output position r.
func (c *convPlan) spatialOffset(r int) int {
	off := 0
	for d := c.spatial - 1; d >= 0; d-- {
		dim := c.outSpDims[d]
		off += (r % dim) * c.oStr[c.axes.OutputSpatial[d]]
		r /= dim
	}
	return off
}

// outPos writes the output spatial coordinates of flattened position r into o.
func (c *convPlan) outPos(r int, o []int) {
	for d := c.spatial - 1; d >= 0; d-- {
		o[d] = r % c.outSpDims[d]
		r /= c.outSpDims[d]
	}
}

// inputOffset returns the input offset (without batch and channel) of kernel step
// k at output position o, or ok=false if it falls on padding or a dilation hole.
func (c *convPlan) inputOffset(o []int, k int) (int, bool) {
	off := 0
	for d := range c.spatial {
		p := o[d]*c.stride[d] + c.kd[k*c.spatial+d] - c.padLo[d]
		if p < 0 {
			return 0, false
		}
		if c.inDil[d] > 1 {
			if p%c.inDil[d] != 0 {
				return 0, false
			}
			p /= c.inDil[d]
		}
		if p >= c.inSpDims[d] {
			return 0, false
		}
		off += p * c.inStr[c.axes.InputSpatial[d]]
	}
	return off, true
}

// fillRowMajor builds x[r][k] for rows r0..r0+rows of batch element b, copying
// runs of input channels (contiguous in the input).
func (c *convPlan) fillRowMajor(x []float32, b, r0, rows int) {
	o := make([]int, c.spatial)
	bOff := b * c.inStr[c.axes.InputBatch]
	cin := c.inDims[c.axes.InputChannels]
	for r := range rows {
		c.outPos(r0+r, o)
		row := x[r*c.kSize : (r+1)*c.kSize]
		for k := 0; k < c.kSize; k += cin {
			off, ok := c.inputOffset(o, k)
			if !ok {
				clear(row[k : k+cin])
				continue
			}
			src := bOff + off + c.icOff[k]
			copy(row[k:k+cin], c.in[src:src+cin])
		}
	}
}

// fillColMajor builds x[k*ld + r] for rows r0..r0+rows of batch element b. For 2D
// convolutions without input dilation on the last axis (NCHW forward passes and
// input gradients of stride-1 convolutions) each output row is one strided copy
// framed by zeros; with input dilation and stride 1 on the last axis (input
// gradients of strided convolutions) every dilation-th element of the row is
// read (fillColMajorDilated); other cases go element by element.
func (c *convPlan) fillColMajor(x []float32, ld, b, r0, rows int) {
	bOff := b * c.inStr[c.axes.InputBatch]
	if c.spatial == 2 && c.inDil[1] > 1 && c.stride[1] == 1 && !smallConvOff.Load() {
		c.fillColMajorDilated(x, ld, b, r0, rows)
		return
	}
	if c.spatial != 2 || c.inDil[1] > 1 {
		o := make([]int, c.spatial)
		for k := range c.kSize {
			col := x[k*ld : k*ld+rows]
			base := bOff + c.icOff[k]
			for r := range rows {
				c.outPos(r0+r, o)
				if off, ok := c.inputOffset(o, k); ok {
					col[r] = c.in[base+off]
				} else {
					col[r] = 0
				}
			}
		}
		return
	}
	ow, h, w, strY, strX, padY, padX := c.frame2D()
	sy, sx := c.stride[0], c.stride[1]
	dy := c.inDil[0]
	for k := range c.kSize {
		col := x[k*ld : k*ld+rows]
		base := bOff + c.icOff[k]
		kdy, kdx := c.kd[2*k], c.kd[2*k+1]
		// Output columns whose input column ox*sx + kdx - padX lies in [0, w).
		oxLo := max(0, ceilDiv(padX-kdx, sx))
		oxHi := min(ow, floorDiv(w-1+padX-kdx, sx)+1)
		step := sx * strX
		// Output rows advance without divisions; small maps' segments are a few
		// elements long, so their per-segment work is what the fill costs.
		oy, ox0 := r0/ow, r0%ow
		for r := 0; r < rows; oy, ox0 = oy+1, 0 {
			n := min(ow-ox0, rows-r)
			seg := col[r : r+n]
			r += n
			py := oy*sy + kdy - padY
			iy := py
			if dy > 1 {
				if py%dy != 0 {
					clear(seg)
					continue
				}
				iy = py / dy
			}
			lo, hi := min(max(oxLo-ox0, 0), n), min(max(oxHi-ox0, 0), n)
			if py < 0 || iy >= h || hi <= lo {
				clear(seg)
				continue
			}
			for j := range lo {
				seg[j] = 0
			}
			for j := hi; j < n; j++ {
				seg[j] = 0
			}
			src := base + iy*strY + ((ox0+lo)*sx+kdx-padX)*strX
			mid := seg[lo:hi]
			switch {
			case step == 1 && len(mid) >= 16:
				copy(mid, c.in[src:src+len(mid)])
			case step == 1:
				in := c.in[src : src+len(mid)]
				for j := range mid {
					mid[j] = in[j]
				}
			default:
				for j := range mid {
					mid[j] = c.in[src+j*step]
				}
			}
		}
	}
}

// fillColMajorDilated is fillColMajor for 2D convolutions with input dilation
// dx > 1 and stride 1 on the last axis: along an output row, input column
// (ox + kdx - padX) / dx is read where that is a whole number in [0, w).
func (c *convPlan) fillColMajorDilated(x []float32, ld, b, r0, rows int) {
	bOff := b * c.inStr[c.axes.InputBatch]
	ow, h, w, strY, strX, padY, padX := c.frame2D()
	sy := c.stride[0]
	dy, dx := c.inDil[0], c.inDil[1]
	for k := range c.kSize {
		col := x[k*ld : k*ld+rows]
		base := bOff + c.icOff[k]
		kdy, kdx := c.kd[2*k], c.kd[2*k+1]
		// Output columns whose dilated input position ox + kdx - padX lies in
		// [0, (w-1)*dx] and is a multiple of dx: first, first+dx, ... < oxHi.
		first := max(0, padX-kdx)
		first += (dx - (first+kdx-padX)%dx) % dx
		oxHi := min(ow, (w-1)*dx+padX-kdx+1)
		for r := 0; r < rows; {
			oy, ox0 := (r0+r)/ow, (r0+r)%ow
			n := min(ow-ox0, rows-r)
			seg := col[r : r+n]
			r += n
			clear(seg)
			py := oy*sy + kdy - padY
			if py < 0 || py%dy != 0 || py/dy >= h {
				continue
			}
			ox := first
			if ox < ox0 {
				ox += (ox0 - ox + dx - 1) / dx * dx
			}
			row := base + (py/dy)*strY
			for end := min(oxHi, ox0+n); ox < end; ox += dx {
				seg[ox-ox0] = c.in[row+((ox+kdx-padX)/dx)*strX]
			}
		}
	}
}

// frame2D returns what both 2D fills read of a convolution's geometry: the
// output row's length ow, the input's height h and width w, its strides
// along them, and the low padding along them.
func (c *convPlan) frame2D() (ow, h, w, strY, strX, padY, padX int) {
	return c.outSpDims[1], c.inSpDims[0], c.inSpDims[1],
		c.inStr[c.axes.InputSpatial[0]], c.inStr[c.axes.InputSpatial[1]],
		c.padLo[0], c.padLo[1]
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

// fillBatchRows builds x[k][b] for output position o.
func (c *convPlan) fillBatchRows(x []float32, r int) {
	o := make([]int, c.spatial)
	c.outPos(r, o)
	bStr := c.inStr[c.axes.InputBatch]
	for k := range c.kSize {
		col := x[k*c.batch : (k+1)*c.batch]
		off, ok := c.inputOffset(o, k)
		if !ok {
			clear(col)
			continue
		}
		src := off + c.icOff[k]
		if bStr == 1 {
			copy(col, c.in[src:src+c.batch])
			continue
		}
		for b := range col {
			col[b] = c.in[src+b*bStr]
		}
	}
}

var scratchPool sync.Pool // *[]float32

func getScratch(n int) []float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float32, n)
}

func putScratch(s []float32) {
	s = s[:cap(s)]
	scratchPool.Put(&s)
}
