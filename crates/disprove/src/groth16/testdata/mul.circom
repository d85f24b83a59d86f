pragma circom 2.0.0;

// Knows a, b with a*b = x1 and a + 2b = x2; x1, x2 public.
template Mul() {
    signal input a;
    signal input b;
    signal output x1;
    signal output x2;
    x1 <== a * b;
    x2 <== a + 2 * b;
}

component main = Mul();
