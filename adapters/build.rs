// `embed_migrations!` reads ../migrations at compile time, but cargo cannot see that from a
// proc macro: without this, an added or edited migration leaves stale SQL in the binary.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
