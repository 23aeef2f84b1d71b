package app

func init() {
	Register(Command{
		Name:    "bench",
		Summary: "measure Kata: the action benchmark on Kata World (kata bench actions)",
		Run:     benchGroup.run,
	})
}

// benchGroup holds the `kata bench` sub-commands.
var benchGroup = newCommandGroup("bench")
