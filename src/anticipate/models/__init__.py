"""Next-purchase models (LightGBM) and the baselines they are judged against."""
