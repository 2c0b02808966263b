"""``python -m localcloud up``: what ``sprout local up`` runs."""

from localcloud.cli import main

if __name__ == "__main__":
    main()
