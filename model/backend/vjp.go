package backend

import (
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// registerVJPs replaces GoMLX v0.26's DotGeneral gradient, which broadcasts to the
// full [batch, M, N, K] product before reducing (huge in memory and time), with the
// usual two DotGenerals, and adds the missing Rsqrt gradient. It is idempotent and
// applies to every backend (the graphs it builds are plain GoMLX ops).
var registerVJPs = sync.OnceFunc(func() {
	if dotGeneralAxesOK() {
		graph.VJPRegistration[graph.NodeTypeDotGeneral] = dotGeneralVJP
	}
	for nodeType, vjp := range map[graph.NodeType]graph.VJP{
		graph.NodeTypeRsqrt:   rsqrtVJP,
		graph.NodeTypePad:     padVJP,
		graph.NodeTypeReverse: reverseVJP,
	} {
		if _, found := graph.VJPRegistration[nodeType]; !found {
			graph.VJPRegistration[nodeType] = vjp
		}
	}
})

func init() { registerVJPs() }

// nodeParams returns the struct value holding a graph node's parameters
// (GoMLX v0.26 keeps them in the unexported field "inputs"); invalid if absent.
func nodeParams(node *graph.Node) reflect.Value {
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return reflect.Value{}
	}
	v = v.Elem()
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}
	}
	return v.Elem()
}

// intsField reads an []int field of a parameter struct by reflection (read-only).
func intsField(params reflect.Value, name string) ([]int, bool) {
	if !params.IsValid() {
		return nil, false
	}
	f := params.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
		return nil, false
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out, true
}

// dotGeneralAxes reads the axes of a DotGeneral graph node. GoMLX v0.26 keeps them
// in an unexported struct (nodeInputsDotGeneral); reflection only reads them.
func dotGeneralAxes(node *graph.Node) (lc, lb, rc, rb []int, ok bool) {
	p := nodeParams(node)
	var ok1, ok2, ok3, ok4 bool
	lc, ok1 = intsField(p, "lhsContractingAxes")
	lb, ok2 = intsField(p, "lhsBatchAxes")
	rc, ok3 = intsField(p, "rhsContractingAxes")
	rb, ok4 = intsField(p, "rhsBatchAxes")
	return lc, lb, rc, rb, ok1 && ok2 && ok3 && ok4
}

// dotGeneralAxesOK checks, on a throw-away graph node type description, that the
// field layout dotGeneralAxes relies on exists; otherwise the stock VJP stays.
func dotGeneralAxesOK() bool {
	t := reflect.TypeOf(graph.Node{})
	f, ok := t.FieldByName("inputs")
	return ok && f.Type.Kind() == reflect.Interface
}

// crossAxes lists the axes of a rank-r operand that are neither contracted nor batch, in order.
func crossAxes(rank int, contracting, batch []int) []int {
	var out []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			out = append(out, a)
		}
	}
	return out
}

// dotGeneralVJP: for out[b.., lx.., rx..] = sum_c lhs * rhs,
//
//	dLhs = DotGeneral(v, contract rx.. with rhs cross, batch b..) -> [b.., lx.., rhs contracting (rhs order)]
//	dRhs = DotGeneral(v, contract lx.. with lhs cross, batch b..) -> [b.., rx.., lhs contracting (lhs order)]
//
// each transposed back to its operand's axis order.
func dotGeneralVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	lc, lb, rc, rb, ok := dotGeneralAxes(node)
	if !ok {
		panic("kata/model/backend: cannot read DotGeneral axes from graph.Node (GoMLX layout changed)")
	}
	v := vjpOutputs[0]
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lx := crossAxes(lhs.Rank(), lc, lb)
	rx := crossAxes(rhs.Rank(), rc, rb)
	nb := len(lb)
	vBatch := seq(0, nb)
	vLhsCross := seq(nb, nb+len(lx))
	vRhsCross := seq(nb+len(lx), nb+len(lx)+len(rx))

	grad := func(other *graph.Node, otherCross, otherBatch []int, vContract []int,
		thisRank int, thisBatch, thisCross, thisContract, otherContract []int) *graph.Node {
		g := graph.DotGeneral(v, vContract, vBatch, other, otherCross, otherBatch)
		// g axes: [batch.., this cross.., other's remaining (= contracting) axes in other's order].
		perm := make([]int, thisRank)
		for i, a := range thisBatch {
			perm[a] = i
		}
		for i, a := range thisCross {
			perm[a] = nb + i
		}
		remaining := slices.Clone(otherContract)
		slices.Sort(remaining)
		for j, oa := range otherContract {
			perm[thisContract[j]] = nb + len(thisCross) + slices.Index(remaining, oa)
		}
		if isIdentity(perm) {
			return g
		}
		return graph.TransposeAllAxes(g, perm...)
	}
	dLhs := grad(rhs, rx, rb, vRhsCross, lhs.Rank(), lb, lx, lc, rc)
	dRhs := grad(lhs, lx, lb, vLhsCross, rhs.Rank(), rb, rx, rc, lc)
	return []*graph.Node{dLhs, dRhs}
}

func rsqrtVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	// d/dx x^(-1/2) = -1/2 * x^(-3/2) = -1/2 * y / x.
	x := node.Inputs()[0]
	d := graph.MulScalar(graph.Div(node, x), -0.5)
	return []*graph.Node{graph.Mul(vjpOutputs[0], d)}
}

// reverseVJP: the adjoint of reversing axes is reversing them back.
func reverseVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	axes, ok := intsField(nodeParams(node), "axes")
	if !ok {
		panic("kata/model/backend: cannot read Reverse axes from graph.Node (GoMLX layout changed)")
	}
	return []*graph.Node{graph.Reverse(vjpOutputs[0], axes...)}
}

// padVJP undoes Pad on the adjoint: the start/end padding is cut off (and cropped
// elements get zero gradient), then the interior padding is skipped by a strided
// slice. The fill value receives the sum of the adjoint over the padded positions.
func padVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	p := nodeParams(node)
	var cfg []backends.PadAxis
	if f := p.FieldByName("axesConfig"); p.IsValid() && f.IsValid() && f.Kind() == reflect.Slice {
		for i := range f.Len() {
			e := f.Index(i)
			cfg = append(cfg, backends.PadAxis{Start: int(e.FieldByName("Start").Int()),
				End: int(e.FieldByName("End").Int()), Interior: int(e.FieldByName("Interior").Int())})
		}
	} else {
		panic("kata/model/backend: cannot read Pad axes from graph.Node (GoMLX layout changed)")
	}
	v := vjpOutputs[0]
	x := node.Inputs()[0]
	undo := make([]backends.PadAxis, len(cfg))
	for i, c := range cfg {
		undo[i] = backends.PadAxis{Start: -c.Start, End: -c.End}
	}
	g := graph.Pad(v, graph.ScalarZero(v.Graph(), v.DType()), undo...)
	specs := make([]graph.SliceAxisSpec, x.Rank())
	for axis := range specs {
		specs[axis] = graph.AxisRange()
		if axis < len(cfg) && cfg[axis].Interior > 0 {
			specs[axis] = graph.AxisRange().Stride(1 + cfg[axis].Interior)
		}
	}
	g = graph.Slice(g, specs...)
	fillGrad := graph.Sub(graph.ReduceAllSum(v), graph.ReduceAllSum(g))
	return []*graph.Node{g, fillGrad}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}
