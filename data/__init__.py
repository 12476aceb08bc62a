"""Files shipped inside citeqa: the sample corpus (`articles/`) and trained weights (`models/`)."""
