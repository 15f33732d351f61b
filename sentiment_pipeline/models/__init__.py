"""The classifiers: building them, the BiLSTM, the TF-IDF model, and the model-folder contract."""
