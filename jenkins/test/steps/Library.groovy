package steps

import pipeline.FakeJenkins

import java.nio.file.Files

/** Where the library is (the pom passes it), and a FakeJenkins with it loaded. */
class Library {
    static File dir() {
        return new File(System.getProperty('kp.library', '.')).canonicalFile
    }

    static FakeJenkins jenkins() {
        File ws = new File(Files.createTempDirectory('kp-build').toFile(), 'workspace')
        return new FakeJenkins(ws).library(dir())
    }
}
