System.Console.Error.WriteLine("conformance runner: not written yet");
return 1;
