"""A small sample for `hearth complete`: the cursor goes inside `fibonacci`."""


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    

def main() -> None:
    for i in range(10):
        print(i, fibonacci(i))


if __name__ == "__main__":
    main()
