"""learning_order"""
